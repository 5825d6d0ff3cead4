"""A checkpoint is one unit: an interrupted save leaves the previous complete one; damaged ones are refused."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

import diffusion_studio.training.checkpoint as checkpoint
from diffusion_studio.cli import main
from diffusion_studio.training.checkpoint import LATEST, STATE_JSON, STATE_TENSORS, latest_state

FAST = ["--arch", "tiny", "--width", "8", "--batch", "4", "--T", "20", "--checkpoint-every", "2"]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "toy.npz"
    np.savez(path, x=np.random.default_rng(0).integers(0, 255, (8, 8, 8), dtype=np.uint8))
    return path


def _train(data: Path, out: Path, steps: int, *extra: str) -> int:
    return main(["train", "--data", str(data), "--out", str(out), "--steps", str(steps), *FAST, *extra])


def _error_line(capsys) -> str:
    """Training prints its progress first; the error is the one last line, with no traceback."""
    err = capsys.readouterr().err
    lines = [line for line in err.strip().splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and err.strip().splitlines()[-1] == lines[0] and "Traceback" not in err, err
    return lines[0]


def _ckpt(out: Path) -> Path:
    return out / "checkpoints" / "unet"


def test_a_checkpoint_is_a_folder_named_by_latest(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "m"
    assert _train(data, out, 4) == 0
    state = latest_state(_ckpt(out))
    assert state is not None and state.name == "state-000000004"
    assert (_ckpt(out) / LATEST).read_text().strip() == state.name
    assert sorted(p.name for p in state.iterdir()) == [STATE_JSON, STATE_TENSORS]
    assert [p.name for p in _ckpt(out).glob("state-*")] == [state.name], "older checkpoints are removed"


@pytest.mark.parametrize("fail_in", ["write_tensors", "write_json", "os_replace", "atomic_write"])
def test_an_interrupted_save_keeps_the_previous_checkpoint(
    data: Path, tmp_path: Path, monkeypatch, capsys, fail_in: str
) -> None:
    out = tmp_path / "m"
    assert _train(data, out, 2) == 0
    before = latest_state(_ckpt(out))
    assert before is not None and before.name == "state-000000002"

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    target = {"os_replace": (checkpoint.os, "replace")}.get(fail_in, (checkpoint, fail_in))
    monkeypatch.setattr(*target, interrupt)
    assert _train(data, out, 4, "--resume") == 130  # Ctrl+C during the save of step 4
    monkeypatch.undo()
    assert "interrupted" in capsys.readouterr().err
    assert latest_state(_ckpt(out)) == before and (before / STATE_TENSORS).is_file()
    assert not list(_ckpt(out).glob(".staging-*")), "the half-written checkpoint is removed"
    assert _train(data, out, 4, "--resume") == 0  # and the run goes on from step 2
    assert json.loads((latest_state(_ckpt(out)) / STATE_JSON).read_text())["step"] == 4


def test_checkpoints_of_the_old_layout_still_resume(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "m"
    assert _train(data, out, 2) == 0
    state = latest_state(_ckpt(out))
    for name in (STATE_TENSORS, STATE_JSON):  # as version 0.1 wrote them: beside each other, no LATEST
        shutil.move(state / name, _ckpt(out) / name)
    state.rmdir()
    (_ckpt(out) / LATEST).unlink()
    assert latest_state(_ckpt(out)) == _ckpt(out)
    assert _train(data, out, 4, "--resume") == 0
    assert latest_state(_ckpt(out)).name == "state-000000004"
    assert not (_ckpt(out) / STATE_TENSORS).exists(), "the superseded old-layout files are gone"


def _damage_pickle(state: Path) -> None:
    (state / STATE_TENSORS).write_bytes(pickle.dumps({"model.weight": [1, 2, 3]}))


def _damage_truncate(state: Path) -> None:
    blob = (state / STATE_TENSORS).read_bytes()
    (state / STATE_TENSORS).write_bytes(blob[: len(blob) // 2])


def _damage_json_key(state: Path) -> None:
    meta = json.loads((state / STATE_JSON).read_text())
    del meta["optim_plain_state"]
    (state / STATE_JSON).write_text(json.dumps(meta))


def _damage_json_text(state: Path) -> None:
    (state / STATE_JSON).write_text("{not json")


def _damage_tensor_missing(state: Path) -> None:
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(state / STATE_TENSORS))
    tensors.pop(next(k for k in tensors if k.startswith("model.")))
    save_file(tensors, str(state / STATE_TENSORS), metadata={"step": "2"})


@pytest.mark.parametrize(
    "damage,needle",
    [
        (_damage_pickle, "cannot be read"),
        (_damage_truncate, "cannot be read"),
        (_damage_json_key, "optim_plain_state"),
        (_damage_json_text, "cannot be read"),
        (_damage_tensor_missing, "damaged or does not fit"),
    ],
)
def test_a_damaged_checkpoint_is_one_error_line(data: Path, tmp_path: Path, capsys, damage, needle: str) -> None:
    out = tmp_path / "m"
    assert _train(data, out, 2) == 0
    capsys.readouterr()
    damage(latest_state(_ckpt(out)))
    assert _train(data, out, 4, "--resume") == 2
    line = _error_line(capsys)
    assert line.startswith("error: The checkpoint in") and needle in line, line


def test_a_full_disk_during_a_checkpoint_is_one_line_and_keeps_the_old_one(
    data: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    from safetensors import SafetensorError

    import diffusion_studio.models.weights as weights

    out = tmp_path / "m"
    assert _train(data, out, 2) == 0
    before = latest_state(_ckpt(out))

    def full(*args, **kwargs):
        raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")

    monkeypatch.setattr(weights, "save_file", full)
    capsys.readouterr()
    assert _train(data, out, 4, "--resume") == 2
    assert "no space left on device" in _error_line(capsys).lower()
    assert latest_state(_ckpt(out)) == before and not list(_ckpt(out).glob(".staging-*"))


def test_a_new_run_into_a_folder_whose_first_save_failed_needs_no_resume(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "m"
    _ckpt(out).mkdir(parents=True)  # what a run interrupted before its first checkpoint leaves
    assert _train(data, out, 2) == 0


@pytest.mark.slow
def test_a_process_killed_at_random_moments_always_leaves_a_complete_checkpoint(data: Path, tmp_path: Path) -> None:
    """SIGKILL (harsher than Ctrl+C: nothing is cleaned up) while a checkpoint is written every step."""
    import os
    import random
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "m"
    argv = [sys.executable, "-m", "diffusion_studio", "train", "--data", str(data), "--out", str(out),
            "--steps", "400", *FAST[:-1], "1", "--threads", "1"]
    rng = random.Random(0)
    for attempt in range(2):
        proc = subprocess.Popen([*argv, *(["--resume"] if attempt else [])], stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        start_step = json.loads((latest_state(_ckpt(out)) / STATE_JSON).read_text())["step"] if attempt else 0
        while time.monotonic() < deadline:  # wait until this process has written at least one checkpoint
            state = latest_state(_ckpt(out)) if _ckpt(out).is_dir() else None
            if state is not None and json.loads((state / STATE_JSON).read_text())["step"] > start_step:
                break
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 0.3))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        state = latest_state(_ckpt(out))
        assert state is not None and (state / STATE_TENSORS).is_file()
        assert load_ok(state), f"attempt {attempt}: the checkpoint left behind does not load"
    step = json.loads((latest_state(_ckpt(out)) / STATE_JSON).read_text())["step"]
    assert _train(data, out, step + 1, "--resume", "--checkpoint-every", "1") == 0


def load_ok(state: Path) -> bool:
    from safetensors import safe_open

    meta = json.loads((state / STATE_JSON).read_text())
    with safe_open(str(state / STATE_TENSORS), "pt") as f:
        return int(f.metadata()["step"]) == meta["step"] and "optim_plain_state" in meta


def test_a_sample_sheet_before_the_first_checkpoint_is_written(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "m"
    argv = ["train", "--data", str(data), "--out", str(out), "--steps", "2", *FAST[:-2], "--sample-every", "1"]
    assert main(argv) == 0
    assert (_ckpt(out) / "samples-0000001.png").is_file() and (out / "samples.png").is_file()


def test_resumed_adam_state_keeps_the_layout_of_channels_last_parameters(tmp_path: Path) -> None:
    """CUDA training keeps networks channels-last and fused AdamW needs exp_avg laid out like its parameter.

    Seen on an H200: every CUDA --resume failed because the restored state came back contiguous.
    """
    import torch

    from diffusion_studio.training.ema import EMA

    def make():
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.Conv2d(8, 4, 1))
        net = net.to(memory_format=torch.channels_last)
        return net, EMA(net, 0.9), torch.optim.AdamW(net.parameters(), lr=1e-3)

    net, ema, opt = make()
    net(torch.randn(2, 3, 6, 6)).square().mean().backward()
    opt.step()
    rng = checkpoint.RngState(torch.Generator().manual_seed(1), cuda=False)
    checkpoint.save_checkpoint(tmp_path, 1, net, ema, opt, rng, [0.5], {})
    net2, ema2, opt2 = make()
    checkpoint.load_checkpoint(tmp_path, net2, ema2, opt2, checkpoint.RngState(torch.Generator(), cuda=False))
    weight = net2[0].weight
    assert weight.is_contiguous(memory_format=torch.channels_last) and not weight.is_contiguous()
    saved, restored = opt.state[net[0].weight], opt2.state[weight]
    for name in ("exp_avg", "exp_avg_sq"):
        assert restored[name].stride() == weight.stride(), name
        assert torch.equal(restored[name], saved[name]), name
    assert float(restored["step"]) == 1.0
