"""Training checkpoints without pickle: every tensor in one safetensors file, every other value in JSON.

A checkpoint folder holds ``state.safetensors`` (``model.*``, ``ema.*``, ``optim.<param index>.<name>``,
``rng.<name>``) and ``state.json`` (step, optimizer hyper-parameters, non-tensor optimizer state, the loss
history, the run's settings). Both carry the step; a mismatch means the pair is torn and is refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open

from diffusion_studio.errors import DataError
from diffusion_studio.models.weights import read_tensors, write_json, write_tensors
from diffusion_studio.training.ema import EMA

STATE_TENSORS = "state.safetensors"
STATE_JSON = "state.json"


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
) -> None:
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
    write_tensors(folder / STATE_TENSORS, tensors, {"step": str(step)})
    write_json(
        folder / STATE_JSON,
        {
            "step": step,
            "ema_updates": ema.updates,
            "param_groups": opt["param_groups"],
            "optim_plain_state": plain_state,
            "losses": losses,
            "settings": settings,
        },
    )


def load_checkpoint(
    folder: Path, net: torch.nn.Module, ema: EMA, optimizer: torch.optim.Optimizer, rng: RngState
) -> Checkpoint:
    """Restore everything :func:`save_checkpoint` wrote; a missing or torn checkpoint is a DataError."""
    tensors_path, json_path = folder / STATE_TENSORS, folder / STATE_JSON
    if not tensors_path.is_file() or not json_path.is_file():
        raise DataError(f"There is no checkpoint to resume from in {folder}.")
    try:
        meta = json.loads(json_path.read_text(encoding="utf-8"))
        with safe_open(str(tensors_path), "pt") as f:
            tensor_step = int((f.metadata() or {}).get("step", -1))
    except (OSError, ValueError) as err:
        raise DataError(f"The checkpoint in {folder} cannot be read ({err}).") from None
    if tensor_step != meta.get("step"):
        raise DataError(f"The checkpoint in {folder} is incomplete (its two files disagree on the step).")
    tensors = read_tensors(tensors_path)
    device = next(net.parameters()).device
    net.load_state_dict(_prefixed(tensors, "model."))
    ema.load_state_dict(_prefixed(tensors, "ema."), int(meta["ema_updates"]))
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value.to(device) if name != "step" else value
    for index, entries in meta["optim_plain_state"].items():
        state.setdefault(int(index), {}).update(entries)
    groups = [{**g, "betas": tuple(g["betas"])} if "betas" in g else g for g in meta["param_groups"]]
    optimizer.load_state_dict({"state": state, "param_groups": groups})
    rng.restore(tensors)
    return Checkpoint(int(meta["step"]), [float(v) for v in meta["losses"]], meta.get("settings", {}))


def _prefixed(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
