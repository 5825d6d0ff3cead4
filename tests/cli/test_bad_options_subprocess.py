"""A few bad command lines in real processes: what reaches the terminal is one ``error:`` line, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # each case starts a Python process (about 2 s)


def _run(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "diffusion_studio", *argv],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["sample", "--seed", "99999999999999999999", "--png", "a.png"], "--seed must be a whole number"),
        (["sample", "--eta", "nan", "--sampler", "ddim", "--png", "a.png"], "--eta must be a number"),
        (["sample", "--batch", "100000", "--png", "a.png"], "--batch must be a whole number"),
        (["sample", "--model", "digits", "--class", "3", "--guidance", "inf", "--png", "a.png"], "--guidance"),
        (["sampel", "--png", "a.png"], "did you mean 'sample'?"),
        (["train", "--data", "none.npz", "--out", "m", "--steps", "0"], "--steps must be a whole number"),
    ],
)
def test_no_traceback_reaches_the_terminal(argv: list[str], needle: str, tmp_path: Path) -> None:
    out = _run(argv, tmp_path)
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], out.stderr
    assert "Traceback" not in out.stderr and out.stdout == ""
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the display check is for Linux")
def test_no_display_is_one_line_and_exit_1(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    out = subprocess.run(
        [sys.executable, "-m", "diffusion_studio"], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120
    )
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: there is no display") and "xvfb-run" in lines[0]
