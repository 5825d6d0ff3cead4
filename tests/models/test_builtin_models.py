"""The built-in trained models ship in resources/ and work offline from the CLI (no training, no data)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from diffusion_studio.cli import main
from diffusion_studio.models import describe_models, load_classifier, load_model
from diffusion_studio.paths import builtin_models_dir

BUILTIN = {"digits": (28, 1, 10), "emoji": (32, 3, 9)}


@pytest.mark.parametrize("name", list(BUILTIN))
def test_builtin_model_ships_with_notice_and_fits_10_mb(name: str) -> None:
    folder = builtin_models_dir() / name
    assert (folder / "model.safetensors").stat().st_size <= 10 * 1024 * 1024
    notice = (folder / "NOTICE.txt").read_text()
    assert "licen" in notice.lower()
    assert not (folder / "checkpoints").exists(), "training checkpoints must not ship"


@pytest.mark.parametrize("name", list(BUILTIN))
def test_builtin_model_states_its_facts(name: str) -> None:
    size, channels, classes = BUILTIN[name]
    info = load_model(name).info
    assert (info.image_size, info.channels, info.num_classes) == (size, channels, classes)
    assert info.training_schedule() is not None and info.licence
    assert name in [i.name for i in describe_models()]


def test_digits_ships_a_noise_aware_classifier() -> None:
    clf = load_classifier("digits")
    assert clf is not None and len(clf.class_names) == 10
    assert load_classifier("emoji") is None


@pytest.mark.parametrize("name,label", [("digits", "7"), ("emoji", "Animals & Nature")])
def test_sample_a_class_with_guidance_to_gif(name: str, label: str, tmp_path: Path) -> None:
    gif = tmp_path / f"{name}.gif"
    code = main(["sample", "--model", name, "--class", label, "--guidance", "3", "--sampler", "ddim",
                 "--steps", "10", "--gif", str(gif), "--quiet"])
    assert code == 0
    with Image.open(gif) as im:
        assert im.n_frames >= 5 and im.width >= BUILTIN[name][0]


def test_classifier_guidance_from_the_cli(tmp_path: Path) -> None:
    png = tmp_path / "three.png"
    code = main(["sample", "--model", "digits", "--class", "3", "--classifier-scale", "2", "--sampler", "ddim",
                 "--steps", "10", "--png", str(png), "--quiet"])
    assert code == 0 and Image.open(png).size == (28, 28)


def test_classifier_guidance_without_a_classifier_is_one_clear_line(tmp_path: Path, capsys) -> None:
    code = main(["sample", "--model", "emoji", "--class", "0", "--classifier-scale", "2", "--steps", "5",
                 "--png", str(tmp_path / "x.png"), "--quiet"])
    assert code == 2
    assert "no noise-aware classifier" in capsys.readouterr().err


def test_trained_model_refuses_another_schedule(tmp_path: Path, capsys) -> None:
    code = main(["sample", "--model", "digits", "--schedule", "cosine", "--png", str(tmp_path / "x.png")])
    assert code == 2 and "trained with the linear" in capsys.readouterr().err
