"""train under torchrun with two CPU processes (gloo): one model folder, the one-process run's losses, exact resume,
and Ctrl+C stopping every process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from safetensors.torch import load_file

pytestmark = pytest.mark.slow  # each run starts torchrun and two Python processes that import torch

ARGS = ["--arch", "tiny", "--T", "50", "--batch", "4", "--warmup", "1", "--log-every", "1", "--device", "cpu"]


def _env() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _cmd(nproc: int, data: Path, out: Path, steps: int, *extra: str) -> list[str]:
    train = [
        "-m",
        "diffusion_studio.training.command",
        "--data",
        str(data),
        "--out",
        str(out),
        "--steps",
        str(steps),
        *ARGS,
        *extra,
    ]
    if nproc == 1:
        return [sys.executable, *train]
    return [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc), "--standalone", *train]


def _run(cmd: list[str], cwd: Path) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stderr


def _losses(out: Path) -> list[float]:
    from diffusion_studio.training.checkpoint import latest_state

    state = latest_state(out / "checkpoints" / "unet")
    assert state is not None, "no complete checkpoint was written"
    return json.loads((state / "state.json").read_text(encoding="utf-8"))["losses"]


def _max_diff(a: Path, b: Path) -> float:
    wa, wb = load_file(str(a / "model.safetensors")), load_file(str(b / "model.safetensors"))
    assert wa.keys() == wb.keys()
    return max(float((wa[k] - wb[k]).abs().max()) for k in wa)


@pytest.fixture
def data(npz_path: Path) -> Path:
    """The toy digits of tests/training/conftest.py (a fixture: importing conftest by name picks the wrong one)."""
    return npz_path


def test_two_processes_equal_one(tmp_path: Path, data: Path) -> None:
    _run(_cmd(1, data, tmp_path / "one", 6), tmp_path)
    log = _run(_cmd(2, data, tmp_path / "two", 6), tmp_path)
    assert log.count("Wrote ") == 1  # rank 0 alone writes the model folder and says so
    assert sum(line.startswith("step 6/6") for line in log.splitlines()) == 1
    one, two = _losses(tmp_path / "one"), _losses(tmp_path / "two")
    assert len(two) == 6
    # same global batch and seed: the same draws, each process half of the batch; only float summation differs
    np.testing.assert_allclose(two, one, rtol=1e-5)
    assert _max_diff(tmp_path / "one", tmp_path / "two") < 1e-5
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == [
        "NOTICE.txt",
        "checkpoints",
        "model.json",
        "model.safetensors",
        "samples.png",
    ]


def test_ctrl_c_stops_every_process_and_resume_is_exact(tmp_path: Path, data: Path) -> None:
    out = tmp_path / "run"
    proc = subprocess.Popen(
        _cmd(2, data, out, 100000, "--checkpoint-every", "2"),
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    for line in proc.stderr:
        if line.startswith("step 5/"):
            break
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl+C in the terminal sends to the whole foreground group
    started = time.monotonic()
    proc.stderr.read()
    assert proc.wait(timeout=60) != 0
    assert time.monotonic() - started < 30
    left = subprocess.run(["ps", "-o", "pid=", "-g", str(proc.pid)], capture_output=True, text=True).stdout.split()
    assert left == []  # no worker outlived the interrupt
    from diffusion_studio.training.checkpoint import latest_state

    step = json.loads((latest_state(out / "checkpoints" / "unet") / "state.json").read_text(encoding="utf-8"))["step"]
    assert step >= 4 and step % 2 == 0
    _run(_cmd(2, data, out, step + 2, "--checkpoint-every", "2", "--resume"), tmp_path)
    _run(_cmd(1, data, tmp_path / "straight", step + 2, "--checkpoint-every", "2"), tmp_path)
    np.testing.assert_allclose(_losses(out), _losses(tmp_path / "straight"), rtol=1e-5)
    assert _max_diff(out, tmp_path / "straight") < 1e-5
