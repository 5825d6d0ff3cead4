"""Safety: safetensors only; a .bin is refused naming convert-weights; a hostile pickle never runs."""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

import diffusers
import pytest
import torch
from diffusers_helpers import make_unet, read_json, save_flat, save_pipeline, write_json

from diffusion_studio.cli import main
from diffusion_studio.commands.convert_weights import convert
from diffusion_studio.errors import ModelError
from diffusion_studio.models.registry import load_model

WEIGHTS = "diffusion_pytorch_model.safetensors"
BIN = "diffusion_pytorch_model.bin"


def _plant(path: str) -> None:
    Path(path).write_text("the pickle ran", encoding="utf-8")


class Hostile:
    """Unpickling this calls _plant(marker): a stand-in for code that an attacker hides in a .bin."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (_plant, (self.marker,))


def _bin_only_folder(tmp_path: Path, unet) -> Path:
    folder = save_flat(tmp_path / "old-google", unet, diffusers.DDPMScheduler())
    torch.save(unet.state_dict(), folder / BIN)
    (folder / WEIGHTS).unlink()
    return folder


def test_bin_only_folder_is_refused_with_the_command(tmp_path, capsys) -> None:
    folder = _bin_only_folder(tmp_path, make_unet(seed=4))
    with pytest.raises(ModelError, match=f"diffusion-studio convert-weights {folder}"):
        load_model(folder)
    assert main(["sample", "--model", str(folder), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "convert-weights" in err[0]


def test_convert_weights_then_open(tmp_path, capsys) -> None:
    unet = make_unet(seed=5)
    folder = _bin_only_folder(tmp_path, unet)
    before = (folder / BIN).read_bytes()
    assert main(["convert-weights", str(folder)]) == 0
    assert "wrote" in capsys.readouterr().out
    assert (folder / BIN).read_bytes() == before  # the .bin is left as it was
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temp file left behind
    model = load_model(folder)
    x = torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    t = torch.tensor([10])
    with torch.no_grad():
        expected = unet(x, t).sample
    torch.testing.assert_close(model.forward(x, t, model.info.training_schedule()), expected)
    assert main(["convert-weights", str(folder)]) == 0  # a second run changes nothing
    assert "nothing to convert" in capsys.readouterr().out


def test_convert_weights_of_a_pipeline_folder(tmp_path) -> None:
    unet = make_unet(seed=6)
    folder = save_pipeline(tmp_path / "pipe", unet, diffusers.DDPMScheduler())
    torch.save(unet.state_dict(), folder / "unet" / BIN)
    (folder / "unet" / WEIGHTS).unlink()
    assert main(["convert-weights", str(folder)]) == 0
    assert (folder / "unet" / WEIGHTS).is_file()
    load_model(folder)


def test_a_hostile_pickle_never_runs(tmp_path, capsys) -> None:
    marker = tmp_path / "planted.txt"
    folder = _bin_only_folder(tmp_path, make_unet(seed=7))
    torch.save({"conv_in.weight": Hostile(marker)}, folder / BIN)
    # the payload is real: an ordinary unpickle would write the marker
    torch.load(folder / BIN, weights_only=False)
    assert marker.read_text(encoding="utf-8") == "the pickle ran"
    marker.unlink()
    assert main(["convert-weights", str(folder)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nothing in it ran" in err[0]
    assert not marker.exists()
    assert not (folder / WEIGHTS).exists()
    with pytest.raises(ModelError):
        load_model(folder)
    assert not marker.exists()
    # the same payload as a plain pickle file named .bin
    (folder / BIN).write_bytes(pickle.dumps(Hostile(marker)))
    with pytest.raises(ModelError, match="not loaded|nothing in it ran|not a readable"):
        convert(folder / BIN, folder / WEIGHTS)
    assert not marker.exists() and not (folder / WEIGHTS).exists()


def test_missing_diffusers_extra_is_one_line(tmp_path, monkeypatch, capsys) -> None:
    folder = save_flat(tmp_path / "m", make_unet(seed=8), diffusers.DDPMScheduler())
    monkeypatch.setitem(sys.modules, "diffusers", None)  # import diffusers now raises ImportError
    with pytest.raises(ModelError, match=r'pip install "diffusion-studio\[diffusers\]"'):
        load_model(folder)
    assert main(["sample", "--model", str(folder), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'pip install "diffusion-studio[diffusers]"' in err[0]


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda c: c.pop("sample_size"), "sample_size"),
        (lambda c: c.update(_class_name="UNet2DConditionModel"), "UNet2DConditionModel"),
        (lambda c: c.update(sample_size=10**9), "sample_size"),
        (lambda c: c.update(sample_size="32"), "sample_size"),
        (lambda c: c.update(block_out_channels="abc"), "block_out_channels"),
        (lambda c: c.update(block_out_channels=[10**9, 8]), "block_out_channels"),
        (
            lambda c: c.update(
                block_out_channels=[4096] * 8,
                layers_per_block=16,
                down_block_types=["DownBlock2D"] * 8,
                up_block_types=["UpBlock2D"] * 8,
            ),
            "parameters",
        ),
        (lambda c: c.update(down_block_types=["EvilBlock2D", "DownBlock2D"]), "cannot build"),
        (lambda c: c.update(out_channels=6), "learned-variance"),
        (lambda c: c.update(block_out_channels=[8, 32]), "do not fit"),
        (lambda c: c.update(num_class_embeds=-1), "num_class_embeds"),
        (lambda c: c.update(time_embedding_type="fourier"), "time_embedding_type"),
        (lambda c: c.update(class_embed_type="timestep"), "class_embed_type"),
        (lambda c: c.update(norm_num_groups=3), "cannot build"),
        (lambda c: c.update(act_fn="os.system"), "cannot build"),
    ],
)
def test_hostile_unet_configs_are_one_sentence(tmp_path, edit, words) -> None:
    folder = save_flat(tmp_path / "m", make_unet(seed=9), diffusers.DDPMScheduler())
    config = read_json(folder / "config.json")
    edit(config)
    write_json(folder / "config.json", config)
    with pytest.raises(ModelError, match=words) as info:
        load_model(folder)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        (lambda f: (f / "config.json").write_text("{not json", encoding="utf-8"), "not a readable JSON"),
        (lambda f: (f / "config.json").write_text("[1, 2]", encoding="utf-8"), "JSON object"),
        (lambda f: (f / WEIGHTS).write_bytes(b"\x00" * 40), "safetensors"),
        (lambda f: (f / WEIGHTS).unlink(), "no weights file"),
        (lambda f: (f / "scheduler_config.json").unlink(), "scheduler_config.json is missing"),
        (lambda f: (f / "scheduler_config.json").write_text('{"beta_schedule": 3}', encoding="utf-8"), "beta_schedule"),
    ],
)
def test_damaged_folders_are_one_sentence(tmp_path, damage, words) -> None:
    folder = save_flat(tmp_path / "m", make_unet(seed=10), diffusers.DDPMScheduler())
    damage(folder)
    with pytest.raises(ModelError, match=words) as info:
        load_model(folder)
    assert "\n" not in str(info.value)


def test_pipeline_of_another_kind_is_refused(tmp_path) -> None:
    folder = save_pipeline(tmp_path / "p", make_unet(seed=11), diffusers.DDPMScheduler())
    index = read_json(folder / "model_index.json")
    index["vqvae"] = ["diffusers", "VQModel"]
    write_json(folder / "model_index.json", index)
    with pytest.raises(ModelError, match="latent"):
        load_model(folder)
    index.pop("vqvae")
    index["unet"] = ["diffusers", "UNet2DConditionModel"]
    write_json(folder / "model_index.json", index)
    with pytest.raises(ModelError, match="UNet2DConditionModel"):
        load_model(folder)
