"""Training checkpoints without pickle: every tensor in one safetensors file, every other value in JSON.

A checkpoint is written as one unit. Each one is a folder ``state-<step>/`` holding ``state.safetensors``
(``model.*``, ``ema.*``, ``optim.<param index>.<name>``, ``rng.<name>``) and ``state.json`` (step, optimizer
hyper-parameters, non-tensor optimizer state, the loss history, the run's settings), both written into a
temporary folder first and renamed into place; then the small text file ``LATEST`` is replaced atomically to
name it, and only then are older ones removed. Interrupted at any moment (Ctrl+C, a full disk, power loss),
the run folder still names the previous complete checkpoint. Checkpoints written before this layout (the two
files directly in the folder) still resume. Both files carry the step; a mismatch means the pair is torn.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open

from diffusion_studio.errors import DataError, ModelError
from diffusion_studio.io.atomic import atomic_write
from diffusion_studio.models.weights import read_tensors, write_json, write_tensors
from diffusion_studio.training.ema import EMA

STATE_TENSORS = "state.safetensors"
STATE_JSON = "state.json"
STATE_PREFIX = "state-"  # state-000001000/: one complete checkpoint
STAGING_PREFIX = ".staging-"  # a checkpoint being written
LATEST = "LATEST"  # names the newest complete checkpoint folder


@dataclass
class RngState:
    """The random generators a run draws from: its own generator (data, t, eps, flips, label dropout) and
    torch's global ones (dropout inside the network)."""

    generator: torch.Generator
    cuda: bool = False

    def capture(self) -> dict[str, torch.Tensor]:
        out = {"rng.generator": self.generator.get_state(), "rng.torch": torch.get_rng_state()}
        if self.cuda:
            out["rng.cuda"] = torch.cuda.get_rng_state()
        return out

    def restore(self, tensors: dict[str, torch.Tensor]) -> None:
        self.generator.set_state(tensors["rng.generator"])
        torch.set_rng_state(tensors["rng.torch"])
        if self.cuda and "rng.cuda" in tensors:
            torch.cuda.set_rng_state(tensors["rng.cuda"])


@dataclass
class Checkpoint:
    step: int
    losses: list[float]
    settings: dict[str, Any] = field(default_factory=dict)


def save_checkpoint(
    folder: Path,
    step: int,
    net: torch.nn.Module,
    ema: EMA,
    optimizer: torch.optim.Optimizer,
    rng: RngState,
    losses: list[float],
    settings: dict[str, Any],
) -> Path:
    """Write the checkpoint of ``step`` as one unit (see the module docstring); return its folder."""
    folder.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {f"model.{k}": v for k, v in net.state_dict().items()}
    tensors.update({f"ema.{k}": v for k, v in ema.state_dict().items()})
    opt = optimizer.state_dict()
    plain_state: dict[str, dict[str, Any]] = {}
    for index, entries in opt["state"].items():
        for name, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{index}.{name}"] = value
            else:
                plain_state.setdefault(str(index), {})[name] = value
    tensors.update(rng.capture())
    meta = {
        "step": step,
        "ema_updates": ema.updates,
        "param_groups": opt["param_groups"],
        "optim_plain_state": plain_state,
        "losses": losses,
        "settings": settings,
    }
    _remove_leftovers(folder)
    staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{step:09d}-", dir=folder))
    try:
        write_tensors(staging / STATE_TENSORS, tensors, {"step": str(step)})
        write_json(staging / STATE_JSON, meta)
        final = folder / f"{STATE_PREFIX}{step:09d}"
        if final.exists():  # the same step written before (a resumed run that stopped there): replace it
            _remove_tree(final)
        os.replace(staging, final)
    except BaseException:
        _remove_tree(staging)
        raise
    atomic_write(folder / LATEST, lambda tmp: tmp.write_text(final.name + "\n", encoding="utf-8"))
    for old in _state_folders(folder):
        if old != final:
            _remove_tree(old)
    for name in (STATE_TENSORS, STATE_JSON):  # a checkpoint of the old layout is now superseded
        (folder / name).unlink(missing_ok=True)
    return final


def latest_state(folder: Path) -> Path | None:
    """The folder holding the newest complete checkpoint's two files (``folder`` itself for the old layout)."""
    pointer = folder / LATEST
    if pointer.is_file():
        try:
            name = pointer.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            name = ""
        chosen = folder / name
        if name and "/" not in name and "\\" not in name and (chosen / STATE_JSON).is_file():
            return chosen
    for candidate in sorted(_state_folders(folder), reverse=True):  # LATEST lost: the newest complete one
        if (candidate / STATE_JSON).is_file() and (candidate / STATE_TENSORS).is_file():
            return candidate
    if (folder / STATE_JSON).is_file() or (folder / STATE_TENSORS).is_file():
        return folder  # written before checkpoints were folders
    return None


def load_checkpoint(
    folder: Path, net: torch.nn.Module, ema: EMA, optimizer: torch.optim.Optimizer, rng: RngState
) -> Checkpoint:
    """Restore everything :func:`save_checkpoint` wrote; a missing, torn or damaged checkpoint is a DataError."""
    state_dir = latest_state(folder)
    if state_dir is None:
        raise DataError(f"There is no checkpoint to resume from in {folder}.")
    tensors_path, json_path = state_dir / STATE_TENSORS, state_dir / STATE_JSON
    if not tensors_path.is_file() or not json_path.is_file():
        raise DataError(f"The checkpoint in {folder} is incomplete (it lacks {STATE_TENSORS} or {STATE_JSON}).")
    try:
        meta = json.loads(json_path.read_text(encoding="utf-8"))
        with safe_open(str(tensors_path), "pt") as f:
            tensor_step = int((f.metadata() or {}).get("step", -1))
    except (OSError, ValueError, SafetensorError) as err:
        raise DataError(f"The checkpoint in {state_dir} cannot be read ({_short(err)}).") from None
    if not isinstance(meta, dict) or tensor_step != meta.get("step"):
        raise DataError(f"The checkpoint in {state_dir} is incomplete (its two files disagree on the step).")
    try:
        return _restore(tensors_path, meta, net, ema, optimizer, rng)
    except ModelError as err:
        raise DataError(f"The checkpoint in {state_dir} cannot be read ({err})") from None
    except (KeyError, TypeError, ValueError, RuntimeError, IndexError) as err:
        what = f"it lacks {err}" if isinstance(err, KeyError) else _short(err)
        raise DataError(
            f"The checkpoint in {state_dir} is damaged or does not fit this network ({what}); "
            "train into a new --out folder."
        ) from None


def _restore(
    tensors_path: Path,
    meta: dict[str, Any],
    net: torch.nn.Module,
    ema: EMA,
    optimizer: torch.optim.Optimizer,
    rng: RngState,
) -> Checkpoint:
    tensors = read_tensors(tensors_path)
    net.load_state_dict(_prefixed(tensors, "model."))
    ema.load_state_dict(_prefixed(tensors, "ema."), int(meta["ema_updates"]))
    state: dict[int, dict[str, Any]] = {}
    params = [p for group in optimizer.param_groups for p in group["params"]]  # the state dict's index order
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value if name == "step" else _like(params[int(index)], value)
    for index, entries in meta["optim_plain_state"].items():
        state.setdefault(int(index), {}).update(entries)
    groups = [{**g, "betas": tuple(g["betas"])} if "betas" in g else g for g in meta["param_groups"]]
    optimizer.load_state_dict({"state": state, "param_groups": groups})
    rng.restore(tensors)
    return Checkpoint(int(meta["step"]), [float(v) for v in meta["losses"]], meta.get("settings", {}))


def _like(param: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """``value`` on the parameter's device and in its memory layout (the file holds it contiguous).

    Fused AdamW on CUDA needs exp_avg and exp_avg_sq laid out exactly like their parameter; the training loop
    keeps CUDA networks channels-last, so a plain ``.to(device)`` made every CUDA ``--resume`` fail (measured on an
    H200: "params, grads, exp_avgs, and exp_avg_sqs must have same dtype, device, and layout").
    """
    if value.shape != param.shape:
        return value.to(param.device)
    return torch.empty_like(param, dtype=value.dtype).copy_(value)


def _state_folders(folder: Path) -> list[Path]:
    return [p for p in folder.glob(f"{STATE_PREFIX}*") if p.is_dir() and p.name[len(STATE_PREFIX) :].isdigit()]


def _remove_leftovers(folder: Path) -> None:
    """Staging folders of an interrupted save."""
    for p in folder.glob(f"{STAGING_PREFIX}*"):
        _remove_tree(p)


def _remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def _short(err: BaseException) -> str:
    return " ".join(str(err).split())[:200]


def _prefixed(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
