"""``diffusion-studio train`` end to end on tiny data: a loadable model folder, classifier, NOTICE, errors."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from diffusion_studio.errors import DataError, OptionError
from diffusion_studio.models.classifier import load_classifier
from diffusion_studio.models.trained import load_trained
from diffusion_studio.training.command import add_arguments, main, run

FAST = ["--arch", "tiny", "--width", "8", "--batch", "4", "--T", "20", "--checkpoint-every", "2"]


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args([*argv, *FAST])


def test_trains_a_loadable_class_conditional_model_from_a_folder(image_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "model"
    assert (
        run(_args("--data", str(image_folder), "--out", str(out), "--steps", "3", "--classes", "--flip")) == 0
    )
    model = load_trained(out)
    assert (
        model.info.class_names == ("left", "top") and model.info.image_size == 8 and model.info.channels == 3
    )
    meta = json.loads((out / "model.json").read_text())
    assert meta["training"]["steps"] == 3 and meta["training"]["flip"] is True and meta["schedule"]["T"] == 20
    assert (out / "samples.png").is_file() and (out / "NOTICE.txt").is_file()
    eps = model.predict_eps(torch.randn(1, 3, 8, 8), torch.tensor([5]), model.info.training_schedule())
    assert eps.shape == (1, 3, 8, 8)


def test_resume_continues_and_a_second_run_needs_resume(npz_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "m"
    base = ("--data", str(npz_path), "--out", str(out))
    run(_args(*base, "--steps", "2"))
    with pytest.raises(OptionError, match="add --resume"):
        run(_args(*base, "--steps", "4"))
    run(_args(*base, "--steps", "4", "--resume", "--cooldown", "2"))  # a cool-down may be added on resume
    training = json.loads((out / "model.json").read_text())["training"]
    assert training["steps"] == 4 and training["cooldown"] == 2
    assert load_trained(out).info.class_names == ()


def test_classifier_goes_beside_the_model(npz_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "m"
    run(_args("--data", str(npz_path), "--out", str(out), "--steps", "2", "--classifier"))
    clf = load_classifier(out)
    assert clf is not None and clf.class_names == ("left", "top") and clf.schedule["T"] == 20
    assert not (out / "model.json").exists()


def test_classifier_must_use_the_models_schedule(npz_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "m"
    run(_args("--data", str(npz_path), "--out", str(out), "--steps", "1", "--classes"))
    with pytest.raises(OptionError, match="same --schedule"):
        run(
            _args(
                "--data",
                str(npz_path),
                "--out",
                str(out),
                "--steps",
                "1",
                "--classifier",
                "--schedule",
                "cosine",
            )
        )


def test_known_data_files_carry_their_notice(tmp_path: Path) -> None:
    x = np.zeros((4, 8, 8), np.uint8)
    np.savez(tmp_path / "mnist28.npz", x=x, y=np.array([0, 1, 2, 3]))
    out = tmp_path / "digits"
    run(_args("--data", str(tmp_path / "mnist28.npz"), "--out", str(out), "--steps", "1"))
    assert "Yann LeCun and Corinna Cortes" in (out / "NOTICE.txt").read_text()
    assert load_trained(out).info.licence == "CC BY-SA 3.0"


def test_bad_data_is_one_sentence_from_main(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(DataError):
        run(_args("--data", str(tmp_path), "--out", str(tmp_path / "o"), "--steps", "1"))
    assert main(["--data", str(tmp_path), "--out", str(tmp_path / "o"), "--steps", "1"]) == 2
    assert capsys.readouterr().err.strip().startswith("error: The folder")


def test_a_negative_cooldown_is_refused(npz_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--data", str(npz_path), "--out", str(tmp_path / "o"), "--steps", "1", "--cooldown", "-1"]
    assert main(argv) == 2
    expected = "error: --cooldown must be a whole number from 0 to 1,000,000,000, not -1."
    assert capsys.readouterr().err.strip() == expected
    assert not (tmp_path / "o").exists()
