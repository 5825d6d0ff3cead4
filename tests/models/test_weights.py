"""Model folders: exact save/load round trip, TrainedModel, and one clear ModelError per broken folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from diffusion_studio.core.schedules import make_schedule
from diffusion_studio.errors import ModelError
from diffusion_studio.models.base import NoisePredictor
from diffusion_studio.models.trained import load_trained, training_timesteps
from diffusion_studio.models.unet import UNet, UNetConfig
from diffusion_studio.models.weights import load_model, model_meta, save_model

CONFIG = UNetConfig(in_channels=1, base_channels=8, channel_mults=(1, 2), num_res_blocks=1, num_classes=2)
SCHEDULE = make_schedule("linear", 100)


def _randomised(config: UNetConfig = CONFIG) -> UNet:
    torch.manual_seed(0)
    net = UNet(config)
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0.0, 0.1)
    return net


def _saved(folder: Path, config: UNetConfig = CONFIG) -> UNet:
    net = _randomised(config)
    meta = model_meta(
        config,
        image_size=12,
        schedule=SCHEDULE.spec(),
        class_names=["a", "b"][: config.num_classes],
        name="toy",
        training={"steps": 5, "licence": "CC0"},
    )
    save_model(folder, net, meta)
    return net


def test_round_trip_is_exact(tmp_path: Path) -> None:
    net = _saved(tmp_path)
    loaded, meta = load_model(tmp_path)
    assert meta["architecture"] == "unet-v1" and meta["class_names"] == ["a", "b"]
    for (name, a), (_, b) in zip(net.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    assert not list(tmp_path.glob(".*tmp"))  # no temporary file left behind


def test_trained_model_predicts_like_the_network(tmp_path: Path) -> None:
    net = _saved(tmp_path).eval()
    model = load_trained(tmp_path, origin="built-in, trained on toys")
    assert isinstance(model, NoisePredictor)
    info = model.info
    assert (info.name, info.image_size, info.channels, info.class_names) == ("toy", 12, 1, ("a", "b"))
    assert info.origin == "built-in, trained on toys" and info.licence == "CC0" and info.parameters > 0
    assert info.training_schedule().same_as(SCHEDULE)
    x, t = torch.randn(2, 1, 12, 12), torch.tensor([3, 90])
    with torch.no_grad():
        expected = net(x, t, torch.tensor([2, 2]))
    assert torch.allclose(model.predict_eps(x, t, SCHEDULE), expected, atol=1e-5)  # y None = null class
    assert model.to("cpu").device == torch.device("cpu")
    assert load_trained(tmp_path).info.origin == str(tmp_path)


def test_timesteps_are_matched_by_noise_level_for_another_schedule() -> None:
    t = torch.tensor([0, 50, 99])
    assert torch.equal(training_timesteps(t, SCHEDULE, make_schedule("linear", 100)), t)
    mapped = training_timesteps(torch.tensor([0, 999]), make_schedule("linear", 1000), SCHEDULE)
    assert mapped.tolist() == [0, 99]


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        load_trained(tmp_path / "nope")


def test_missing_json(tmp_path: Path) -> None:
    _saved(tmp_path)
    (tmp_path / "model.json").unlink()
    with pytest.raises(ModelError, match="no model.json"):
        load_trained(tmp_path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        ('["a list"]', "not a Diffusion Studio model"),
        ('{"format": "something-else"}', "not a Diffusion Studio model"),
    ],
)
def test_invalid_json(tmp_path: Path, text: str, message: str) -> None:
    _saved(tmp_path)
    (tmp_path / "model.json").write_text(text)
    with pytest.raises(ModelError, match=message):
        load_trained(tmp_path)


def _edit_json(folder: Path, **changes) -> None:
    meta = json.loads((folder / "model.json").read_text())
    meta.update(changes)
    (folder / "model.json").write_text(json.dumps(meta))


def test_wrong_architecture(tmp_path: Path) -> None:
    _saved(tmp_path)
    _edit_json(tmp_path, architecture="transformer-9000")
    with pytest.raises(ModelError, match="'transformer-9000' network"):
        load_trained(tmp_path)


def test_unusable_config(tmp_path: Path) -> None:
    _saved(tmp_path)
    _edit_json(tmp_path, config={**CONFIG.to_dict(), "heads": 8})
    with pytest.raises(ModelError, match="unusable U-Net"):
        load_trained(tmp_path)


def test_missing_weights(tmp_path: Path) -> None:
    _saved(tmp_path)
    (tmp_path / "model.safetensors").unlink()
    with pytest.raises(ModelError, match="weights file .* is missing"):
        load_trained(tmp_path)


def test_corrupt_weights(tmp_path: Path) -> None:
    _saved(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"\x00" * 20)
    with pytest.raises(ModelError, match="not a readable safetensors"):
        load_trained(tmp_path)


def test_shape_mismatch(tmp_path: Path) -> None:
    _saved(tmp_path)
    _edit_json(tmp_path, config={**CONFIG.to_dict(), "base_channels": 16})
    with pytest.raises(ModelError, match="has shape"):
        load_trained(tmp_path)


def test_missing_tensor(tmp_path: Path) -> None:
    _saved(tmp_path)
    _edit_json(tmp_path, config={**CONFIG.to_dict(), "num_res_blocks": 2})
    with pytest.raises(ModelError, match="lacks"):
        load_trained(tmp_path)


def test_class_names_must_match_the_network(tmp_path: Path) -> None:
    _saved(tmp_path)
    _edit_json(tmp_path, class_names=["only one"])
    with pytest.raises(ModelError, match="class names"):
        load_trained(tmp_path)


def test_messages_are_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(ModelError) as err:
        load_trained(tmp_path / "nope")
    text = str(err.value)
    assert text.endswith(".") and "\n" not in text
