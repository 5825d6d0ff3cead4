"""The command line: each command works, and bad input gives one clear line and a non-zero exit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from diffusion_studio.cli import main


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    yy, xx = np.mgrid[0:48, 0:64]
    arr = np.stack([xx * 4, yy * 5, (xx + yy) * 2], axis=-1).astype(np.uint8)
    path = tmp_path / "photo.png"
    Image.fromarray(arr).save(path)
    return path


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "Traceback" not in err[0], err
    return err[0]


def test_help_explains_each_command(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for command in ("noise", "sample", "models", "train"):
        assert command in out


def test_sample_help_explains_options(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["sample", "--help"])
    out = capsys.readouterr().out
    for option in (
        "--sampler",
        "--steps",
        "--eta",
        "--seed",
        "--class",
        "--guidance",
        "--init",
        "--strength",
        "--gif",
        "--png",
    ):
        assert option in out


def test_noise_writes_strip_and_gif(photo: Path, tmp_path: Path) -> None:
    strip, gif = tmp_path / "strip.png", tmp_path / "forward.gif"
    code = main(
        [
            "noise",
            str(photo),
            "--t",
            "0,250,500,999",
            "--schedule",
            "cosine",
            "--size",
            "32",
            "--out",
            str(strip),
            "--gif",
            str(gif),
            "--frames",
            "12",
        ]
    )
    assert code == 0
    with Image.open(strip) as im:
        assert im.width > 4 * 32
    with Image.open(gif) as im:
        assert im.n_frames >= 10  # consecutive identical frames may merge


def test_sample_from_noise_writes_gif_and_png(tmp_path: Path) -> None:
    gif, png = tmp_path / "out.gif", tmp_path / "final.png"
    code = main(
        [
            "sample",
            "--model",
            "ideal",
            "--sampler",
            "ddim",
            "--steps",
            "10",
            "--size",
            "16",
            "--seed",
            "3",
            "--gif",
            str(gif),
            "--png",
            str(png),
            "--quiet",
            "--frames",
            "11",
        ]
    )
    assert code == 0
    with Image.open(png) as im:
        assert im.size == (16, 16)
    with Image.open(gif) as im:
        assert im.n_frames >= 2 and im.info.get("loop") == 0


def test_sample_same_seed_same_png(tmp_path: Path) -> None:
    outs = []
    for name in ("a.png", "b.png"):
        main(
            [
                "sample",
                "--model",
                "ideal",
                "--steps",
                "20",
                "--T",
                "20",
                "--size",
                "16",
                "--seed",
                "9",
                "--png",
                str(tmp_path / name),
                "--quiet",
            ]
        )
        outs.append(np.asarray(Image.open(tmp_path / name)))
    assert np.array_equal(*outs)


def test_sample_from_own_image_returns_it(photo: Path, tmp_path: Path) -> None:
    png = tmp_path / "back.png"
    code = main(
        [
            "sample",
            "--model",
            "ideal",
            "--init",
            str(photo),
            "--strength",
            "0.5",
            "--sampler",
            "ddim",
            "--steps",
            "20",
            "--size",
            "64",
            "--png",
            str(png),
            "--quiet",
        ]
    )
    assert code == 0
    back = np.asarray(Image.open(png).convert("RGB")).astype(int)
    original = np.asarray(Image.open(photo).convert("RGB")).astype(int)
    assert back.shape == original.shape and np.abs(back - original).mean() < 4


def test_models_lists_closed_form(capsys) -> None:
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "ideal" in out and "gaussian" in out


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["sample", "--model", "nope", "--png", "x.png"], "no model called 'nope'"),
        (["sample", "--init", "missing.png", "--png", "x.png"], "missing.png"),
        (["sample", "--sampler", "ddim", "--steps", "0", "--png", "x.png"], "steps"),
        (
            ["sample", "--class", "3", "--guidance", "2", "--model", "gaussian", "--png", "x.png"],
            "no classes",
        ),
        (["noise", "missing.png", "--out", "x.png"], "missing.png"),
        (["noise", "PHOTO", "--t", "5000", "--out", "x.png"], "between 0 and T-1"),
        (["noise", "PHOTO"], "Say where to write"),
    ],
)
def test_bad_input_is_one_line_and_nonzero(
    argv, needle, photo: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    argv = [str(photo) if a == "PHOTO" else a for a in argv]
    assert main(argv) != 0
    assert needle in _error_line(capsys)


def test_not_an_image_is_a_clear_error(tmp_path: Path, capsys) -> None:
    fake = tmp_path / "notes.png"
    fake.write_text("this is text, not a picture")
    assert main(["noise", str(fake), "--out", str(tmp_path / "x.png")]) != 0
    assert "notes.png" in _error_line(capsys)
    assert not (tmp_path / "x.png").exists()


def test_python_dash_m_runs_the_same_cli() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "diffusion_studio", "--version"], capture_output=True, text=True
    )
    assert out.returncode == 0 and "Diffusion Studio" in out.stdout


def test_unknown_option_exits_nonzero() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "diffusion_studio", "sample", "--bogus"], capture_output=True, text=True
    )
    assert out.returncode == 2 and "unrecognized arguments" in out.stderr
