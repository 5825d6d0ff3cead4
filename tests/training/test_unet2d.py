"""train --arch unet2d trains a diffusers UNet2DModel; export-diffusers writes a folder DDPMPipeline loads."""

from __future__ import annotations

import pytest
import torch

from diffusion_studio.cli import main
from diffusion_studio.errors import ExportError, ModelError
from diffusion_studio.models.diffusers_export import export_diffusers
from diffusion_studio.models.registry import load_model

diffusers = pytest.importorskip("diffusers")
pytestmark = pytest.mark.slow  # each trains (a few steps) and writes a 50-step sample sheet: seconds, not ms


def _train(npz_path, out, *extra: str) -> None:
    argv = [
        "train",
        "--data",
        str(npz_path),
        "--out",
        str(out),
        "--steps",
        "3",
        "--batch",
        "4",
        "--arch",
        "unet2d",
        "--width",
        "8",
        "--T",
        "50",
        "--warmup",
        "1",
        "--device",
        "cpu",
        *extra,
    ]
    assert main(argv) == 0


def test_unet2d_trains_opens_and_exports(npz_path, tmp_path, capsys) -> None:
    out = tmp_path / "toy-unet2d"
    _train(npz_path, out, "--classes")
    model = load_model(out)
    info = model.info
    assert info.extra["architecture"] == "diffusers-UNet2DModel"
    assert (info.image_size, info.channels, info.class_names) == (8, 1, ("left", "top"))
    assert (out / "samples.png").is_file() and (out / "checkpoints" / "unet").is_dir()
    exported = tmp_path / "exported"
    assert main(["export-diffusers", str(out), str(exported)]) == 0
    assert "DDPMPipeline.from_pretrained" in capsys.readouterr().out
    pipe = diffusers.DDPMPipeline.from_pretrained(exported)
    assert isinstance(pipe.unet, diffusers.UNet2DModel) and pipe.scheduler.config.num_train_timesteps == 50
    x = torch.randn(2, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    t = torch.tensor([40, 3])
    y = torch.tensor([1, 2])  # 2 is the null class of classifier-free guidance
    with torch.no_grad():
        expected = pipe.unet(x, t, class_labels=y).sample
    torch.testing.assert_close(model.forward(x, t, info.training_schedule(), y), expected)
    # the studio opens the exported folder too, and the guided sampler runs on the trained model
    assert load_model(exported).info.parameters == info.parameters
    png = tmp_path / "s.png"
    assert (
        main(
            [
                "sample",
                "--model",
                str(out),
                "--class",
                "top",
                "--guidance",
                "2",
                "--sampler",
                "ddim",
                "--steps",
                "5",
                "--png",
                str(png),
                "--quiet",
            ]
        )
        == 0
    )
    assert png.is_file()


def test_unconditional_pipeline_runs_from_the_export(npz_path, tmp_path) -> None:
    out = tmp_path / "plain"
    _train(npz_path, out, "--schedule", "cosine")
    exported = export_diffusers(out, tmp_path / "exp")
    pipe = diffusers.DDPMPipeline.from_pretrained(exported)
    assert pipe.scheduler.config.beta_schedule == "squaredcos_cap_v2"
    pipe.set_progress_bar_config(disable=True)
    images = pipe(batch_size=1, num_inference_steps=3, output_type="np").images
    assert images.shape == (1, 8, 8, 1)


def test_export_refuses_other_models_and_never_overwrites(npz_path, tmp_path) -> None:
    studio = tmp_path / "studio"
    assert (
        main(
            [
                "train",
                "--data",
                str(npz_path),
                "--out",
                str(studio),
                "--steps",
                "1",
                "--batch",
                "2",
                "--arch",
                "tiny",
                "--T",
                "50",
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    with pytest.raises(ModelError, match="--arch unet2d"):
        export_diffusers(studio, tmp_path / "x")
    out = tmp_path / "u"
    _train(npz_path, out)
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "keep.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(ExportError, match="already exists"):
        export_diffusers(out, taken)
    assert [p.name for p in taken.iterdir()] == ["keep.txt"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left behind
