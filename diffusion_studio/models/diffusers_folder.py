"""A diffusers ``UNet2DModel`` folder behind the :class:`NoisePredictor` interface, opened offline and safely.

Weights are read from safetensors only (tensors, never pickle); diffusers is imported lazily, with the Hugging Face
hub switched to offline first, and only to build the network from its config. No download function is ever called.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from diffusion_studio.core.schedules import Schedule
from diffusion_studio.errors import ModelError, OptionError
from diffusion_studio.models.base import ModelInfo, NoisePredictor
from diffusion_studio.models.diffusers_config import (
    WEIGHTS,
    check_unet_config,
    find_layout,
    read_json,
    schedule_and_defaults,
)
from diffusion_studio.models.trained import training_timesteps

ARCHITECTURE = "diffusers-UNet2DModel"
INSTALL_HINT = 'pip install "diffusion-studio[diffusers]"'
MAX_PARAMETERS = 2_000_000_000
FP16_WEIGHTS = "diffusion_pytorch_model.fp16.safetensors"


def import_diffusers() -> Any:
    """The diffusers module, imported with the hub offline; a ModelError naming the extra when it is missing."""
    os.environ["HF_HUB_OFFLINE"] = "1"  # the studio makes no network call, even by accident
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    try:
        import diffusers
        from diffusers.utils import logging as diffusers_logging
    except ImportError:
        raise ModelError(f"Opening diffusers models needs the diffusers package: {INSTALL_HINT}") from None
    diffusers_logging.set_verbosity_error()  # its config warnings are not the person's business
    return diffusers


class DiffusersModel(NoisePredictor):
    """eps_theta (or x0 / v, as the scheduler's prediction_type says) of a diffusers ``UNet2DModel``."""

    def __init__(self, net: torch.nn.Module, info: ModelInfo) -> None:
        self.net = net.eval().requires_grad_(False)
        self.info = info
        self._trained_on = info.training_schedule()
        self.half = False

    def to(self, device: torch.device | str, half: bool | None = None) -> DiffusersModel:
        """Move to ``device``; on CUDA the weights go to float16 (``half`` None: the default; untested on GPU)."""
        device = torch.device(device)
        self.half = device.type == "cuda" if half is None else bool(half and device.type == "cuda")
        self.net.to(device=device, dtype=torch.float16 if self.half else torch.float32)
        return self

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    def forward(
        self, x_t: torch.Tensor, t: torch.Tensor, schedule: Schedule, y: torch.Tensor | None = None
    ) -> torch.Tensor:
        batch = x_t.shape[0]
        t = torch.as_tensor(t, device=x_t.device)
        # a fractional model time (Euler/Heun between trained timesteps) goes in as it is, as diffusers gives it
        t = (t.float() if t.is_floating_point() else t.long()).reshape(-1).expand(batch)
        if self._trained_on is not None:
            t = training_timesteps(t, schedule, self._trained_on)
        labels = self._labels(y, batch, x_t.device)
        dtype = torch.float16 if self.half else torch.float32
        out = self.net(x_t.to(dtype), t, class_labels=labels, return_dict=False)[0]
        return out.to(x_t.dtype)

    def _labels(self, y: torch.Tensor | None, batch: int, device: torch.device) -> torch.Tensor | None:
        n = self.info.num_classes
        embeds = self.net.config.get("num_class_embeds") or 0
        if embeds == 0:
            return None  # an unconditional model ignores labels
        null = n if embeds == n + 1 else None  # trained here: the last embedding is the null class
        if y is None:
            if null is not None:
                return torch.full((batch,), null, dtype=torch.long, device=device)
            raise OptionError(f"The '{self.info.name}' model is class-conditional: choose a class 0..{n - 1}.")
        y = torch.as_tensor(y, device=device).long().reshape(-1).expand(batch)
        if int(y.min()) < 0 or int(y.max()) >= (n if null is None else n + 1):
            raise OptionError(
                f"The '{self.info.name}' model has classes 0..{n - 1} and no 'no class' label, "
                "so classifier-free guidance cannot apply to it."
            )
        return y


def load_diffusers_folder(folder: str | Path, name: str | None = None, origin: str | None = None) -> DiffusersModel:
    """Open a diffusers folder (flat or pipeline layout) on the CPU; every failure is one ModelError sentence."""
    folder = Path(folder)
    layout = find_layout(folder)
    unet_config = read_json(layout.unet_config)
    facts = check_unet_config(unet_config, layout.unet_config)
    schedule, defaults = schedule_and_defaults(read_json(layout.scheduler_config), layout.scheduler_config)
    weights = layout.weights
    if not weights.is_file() and layout.weights.with_name(FP16_WEIGHTS).is_file():
        weights = layout.weights.with_name(FP16_WEIGHTS)  # the fp16 variant alone: read, then used as float32
    if not weights.is_file():
        if layout.weights.with_name(WEIGHTS + ".index.json").is_file():
            raise ModelError(
                f"{folder} has sharded weights, which the studio does not open (a UNet2DModel fits one file)."
            )
        if layout.pickled.is_file():
            raise ModelError(
                f"{folder} has only pickled weights ({layout.pickled.name}), which the studio never loads; "
                f"convert them once with: diffusion-studio convert-weights {folder}"
            )
        raise ModelError(f"The diffusers folder {folder} has no weights file {layout.weights.name}.")
    net = _build_unet(unet_config, layout.unet_config)
    _load_weights(net, weights)
    info = ModelInfo(
        name=name or folder.name,
        image_size=facts.image_size,
        channels=facts.channels,
        prediction=defaults.prediction,
        class_names=tuple(str(i) for i in range(facts.num_classes)),
        schedule=schedule.spec(),
        origin=origin or f"diffusers {layout.kind} folder {folder}",
        parameters=sum(p.numel() for p in net.parameters()),
        extra={
            "architecture": ARCHITECTURE,
            "config": {k: v for k, v in unet_config.items() if not k.startswith("_")},
            "sampler_defaults": asdict(defaults),
            "layout": layout.kind,
            "weights_bytes": weights.stat().st_size,
        },
    )
    return DiffusersModel(net, info)


def _build_unet(config: dict[str, Any], path: Path) -> torch.nn.Module:
    """UNet2DModel.from_config, sized on the meta device first so a hostile config cannot exhaust memory."""
    diffusers = import_diffusers()
    try:
        with torch.device("meta"):
            probe = diffusers.UNet2DModel.from_config(config)
        count = sum(p.numel() for p in probe.parameters())
        if count > MAX_PARAMETERS:
            raise ModelError(
                f"{path} describes a U-Net of {count / 1e9:.1f}G parameters, beyond what the studio opens."
            )
        if any(True for _ in probe.buffers()):
            return diffusers.UNet2DModel.from_config(config)  # buffers need real initial values
        return probe.to_empty(device="cpu")  # every parameter is overwritten by the weights file
    except ModelError:
        raise
    except Exception as err:  # diffusers raises ValueError, TypeError, KeyError, AttributeError... on bad configs
        raise ModelError(f"diffusers cannot build a UNet2DModel from {path} ({_first_line(err)}).") from None


def _load_weights(net: torch.nn.Module, path: Path) -> None:
    from diffusion_studio.models.weights import read_tensors

    state = read_tensors(path)
    fix = getattr(net, "_fix_state_dict_keys_on_load", None)
    if fix is not None:  # 2022 attention names (query/key/value/proj_attn -> to_q/to_k/to_v/to_out.0)
        state = fix(dict(state)) or state
    own = net.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        first = (missing or unexpected or wrong)[0]
        raise ModelError(
            f"The weights in {path} do not fit its config ({len(missing)} missing, {len(unexpected)} unexpected, "
            f"{len(wrong)} of the wrong shape, e.g. '{first}')."
        )
    if not all(v.is_floating_point() for v in state.values()):
        raise ModelError(f"The weights in {path} are not all floating-point tensors.")
    net.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)


def _first_line(err: BaseException) -> str:
    return (str(err).splitlines() or [type(err).__name__])[0][:200]


def is_studio_unet2d(folder: Path) -> bool:
    """A studio model folder whose model.json holds a diffusers UNet2DModel (``train --arch unet2d``)."""
    import json

    try:
        meta = json.loads((folder / "model.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(meta, dict) and meta.get("architecture") == ARCHITECTURE


def load_studio_unet2d(folder: str | Path, origin: str | None = None) -> DiffusersModel:
    """Open a studio model folder of a diffusers UNet2DModel (model.json + model.safetensors)."""
    from diffusion_studio.core.schedules import schedule_from_spec
    from diffusion_studio.models.weights import MODEL_STEM, read_meta

    folder = Path(folder)
    path = folder / f"{MODEL_STEM}.json"
    meta = read_meta(folder, MODEL_STEM, ARCHITECTURE)
    config = meta.get("config")
    if not isinstance(config, dict):
        raise ModelError(f'{path} has no usable "config" of its UNet2DModel.')
    facts = check_unet_config(config, path)
    names = meta.get("class_names", [])
    if not isinstance(names, list) or (names and facts.num_classes != len(names) + 1):
        raise ModelError(f'{path} has "class_names" that do not fit num_class_embeds (classes + the null class).')
    try:
        schedule = schedule_from_spec(meta["schedule"])
    except (OptionError, KeyError, TypeError, ValueError) as err:
        raise ModelError(f'{path} has an unusable "schedule" ({err}).') from None
    net = _build_unet(config, path)
    _load_weights(net, folder / f"{MODEL_STEM}.safetensors")
    training = meta.get("training") if isinstance(meta.get("training"), dict) else {}
    info = ModelInfo(
        name=str(meta.get("name") or folder.name),
        image_size=facts.image_size,
        channels=facts.channels,
        prediction=str(meta.get("prediction", "epsilon")),
        class_names=tuple(str(c) for c in names),
        schedule=schedule.spec(),
        origin=origin or f"{folder} (diffusers UNet2DModel trained here)",
        licence=str(training.get("licence", "")),
        parameters=sum(p.numel() for p in net.parameters()),
        extra={"architecture": ARCHITECTURE, "config": config, "training": training, "layout": "studio"},
    )
    return DiffusersModel(net, info)
