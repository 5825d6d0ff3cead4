"""Save and load a network as ``<stem>.safetensors`` (tensors only, never pickle) + ``<stem>.json`` (facts).

A model folder holds::

    model.safetensors       the U-Net's weights (the EMA weights after training)
    model.json              {"format", "architecture", "config", "image_size", "channels", "schedule",
                             "prediction", "class_names", "name",
                             "training": {data, licence, attribution, steps, date, ...}}
    classifier.safetensors  optional: a noise-aware classifier p(y | x_t, t) for classifier guidance
    classifier.json         same layout as model.json, "architecture" = "noisy-classifier-v1"
    NOTICE.txt              attribution and licence of the training data

Every failure is a :class:`ModelError` whose message is one sentence that names the file.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from diffusion_studio.errors import ModelError
from diffusion_studio.io.atomic import atomic_write
from diffusion_studio.models.unet import ARCHITECTURE, UNet, UNetConfig

FORMAT = "diffusion-studio-model"
FORMAT_VERSION = 1
MODEL_STEM = "model"
CLASSIFIER_STEM = "classifier"
MIN_IMAGE_SIZE, MAX_IMAGE_SIZE = 4, 2048  # pixels a side that a model may declare


def write_json(path: Path, obj: Any) -> None:
    """Write ``obj`` as indented UTF-8 JSON, atomically (see :mod:`diffusion_studio.io.atomic`)."""
    text = json.dumps(obj, indent=2, ensure_ascii=False) + "\n"
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_tensors(
    path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None
) -> None:
    """A safetensors file of contiguous CPU copies (no shared storage), written atomically."""
    flat = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}

    def save(tmp: Path) -> None:
        try:
            save_file(flat, str(tmp), metadata=metadata)
        except SafetensorError as err:  # e.g. "No space left on device": an OSError to atomic_write
            raise OSError(" ".join(str(err).split(": ")[-1:]) or "write error") from None

    atomic_write(path, save)


def read_tensors(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise ModelError(f"The weights file {path} is missing.")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise ModelError(f"The weights file {path} is not a readable safetensors file ({err}).") from None


def save_network(folder: str | Path, stem: str, module: nn.Module, meta: dict[str, Any]) -> Path:
    """Write ``<stem>.safetensors`` and ``<stem>.json`` into ``folder`` (created if needed)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, **meta}
    write_tensors(folder / f"{stem}.safetensors", module.state_dict(), {"format": FORMAT})
    write_json(folder / f"{stem}.json", meta)
    return folder


def read_meta(folder: str | Path, stem: str = MODEL_STEM, architecture: str | None = None) -> dict[str, Any]:
    """The parsed ``<stem>.json``, checked to be ours (and of ``architecture`` when given)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelError(f"The model folder {folder} does not exist.")
    path = folder / f"{stem}.json"
    if not path.is_file():
        raise ModelError(f"The model folder {folder} has no {stem}.json describing the model.")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ModelError(f"{path} is not valid JSON ({err}).") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelError(f'{path} is not a Diffusion Studio model description (no "format": "{FORMAT}").')
    if int(meta.get("format_version", 0)) > FORMAT_VERSION:
        raise ModelError(f"{path} was written by a newer Diffusion Studio (format {meta['format_version']}).")
    if architecture is not None and meta.get("architecture") != architecture:
        raise ModelError(
            f"{path} describes a '{meta.get('architecture')}' network, but a '{architecture}' was expected."
        )
    return meta


def load_network(folder: str | Path, stem: str, module: nn.Module) -> None:
    """Fill ``module`` from ``<stem>.safetensors``; every name and shape must match exactly."""
    path = Path(folder) / f"{stem}.safetensors"
    state = read_tensors(path)
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        names = ", ".join((missing or unexpected)[:3])
        what = "lacks" if missing else "has unexpected"
        raise ModelError(
            f"The weights in {path} do not fit the network described by {stem}.json: it {what} {names}."
        )
    for name, value in expected.items():
        if state[name].shape != value.shape:
            raise ModelError(
                f"The weights in {path} do not fit {stem}.json: {name} has shape {tuple(state[name].shape)}, "
                f"expected {tuple(value.shape)}."
            )
    module.load_state_dict(state)


def meta_field(meta: dict[str, Any], key: str, kind: type, path: str) -> Any:
    """``meta[key]`` checked to be of ``kind``; a ModelError naming the file otherwise."""
    value = meta.get(key)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise ModelError(f'{path} lacks a valid "{key}" entry.')
    return value


def model_meta(
    config: UNetConfig,
    *,
    image_size: int,
    schedule: dict,
    class_names: tuple[str, ...] | list[str] = (),
    name: str = "",
    training: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``model.json`` content for a U-Net that predicts epsilon."""
    return {
        "architecture": ARCHITECTURE,
        "name": name,
        "config": config.to_dict(),
        "image_size": int(image_size),
        "channels": config.in_channels,
        "schedule": schedule,
        "prediction": "epsilon",
        "class_names": list(class_names),
        "training": training or {},
    }


def save_model(folder: str | Path, net: UNet, meta: dict[str, Any]) -> Path:
    """Write ``model.safetensors`` + ``model.json`` (``meta`` from :func:`model_meta`)."""
    return save_network(folder, MODEL_STEM, net, meta)


def load_model(folder: str | Path) -> tuple[UNet, dict[str, Any]]:
    """Rebuild the U-Net that ``model.json`` describes, filled from ``model.safetensors`` (eval mode, CPU)."""
    meta = read_meta(folder, MODEL_STEM, ARCHITECTURE)
    path = str(Path(folder) / f"{MODEL_STEM}.json")
    config_dict = meta_field(meta, "config", dict, path)
    try:
        config = UNetConfig.from_dict(config_dict)
    except (TypeError, ValueError) as err:
        raise ModelError(f'{path} has an unusable U-Net "config" ({err}).') from None
    image_size = meta_field(meta, "image_size", int, path)
    if not MIN_IMAGE_SIZE <= image_size <= MAX_IMAGE_SIZE:
        raise ModelError(
            f'{path} gives "image_size" {image_size}; it must be from {MIN_IMAGE_SIZE} to {MAX_IMAGE_SIZE}.'
        )
    meta_field(meta, "schedule", dict, path)
    names = meta.get("class_names", [])
    if not isinstance(names, list) or len(names) != config.num_classes:
        raise ModelError(
            f"{path} lists {len(names)} class names but its network has {config.num_classes} classes."
        )
    if meta.get("channels", config.in_channels) != config.in_channels:
        raise ModelError(
            f"{path} says {meta.get('channels')} channels but its network takes {config.in_channels}."
        )
    check_config_sizes(config, path)
    check_weight_shapes(folder, MODEL_STEM, lambda: UNet(config))  # before any memory is spent on the network
    net = UNet(config)
    load_network(folder, MODEL_STEM, net)
    return net.eval(), meta


# Far beyond any network this studio can run, small enough that building the description costs nothing.
SIZE_LIMITS = {"in_channels": 16, "base_channels": 4096, "num_res_blocks": 32, "num_classes": 100_000}
MAX_LEVELS, MAX_MULT = 8, 64


def check_config_sizes(config: Any, path: str | Path) -> None:
    """Refuse a network description whose sizes are absurd (a ModelError naming the file and the entry)."""
    for name, limit in SIZE_LIMITS.items():
        value = getattr(config, name, None)
        if isinstance(value, int) and value > limit:
            raise ModelError(f'{path} gives "{name}" {value:,}; the most this studio accepts is {limit:,}.')
    mults = tuple(getattr(config, "channel_mults", ()) or ())
    if len(mults) > MAX_LEVELS or any(m > MAX_MULT for m in mults):
        raise ModelError(
            f'{path} gives "channel_mults" {list(mults)[:10]}; at most {MAX_LEVELS} levels of at most {MAX_MULT}.'
        )


def check_weight_shapes(folder: str | Path, stem: str, build: Callable[[], nn.Module]) -> None:
    """Compare the network ``build()`` describes (made on the meta device: no memory) with the names and shapes
    in ``<stem>.safetensors``'s header, so a description with absurd sizes is refused before it is allocated."""
    path = Path(folder) / f"{stem}.safetensors"
    if not path.is_file():
        raise ModelError(f"The weights file {path} is missing.")
    try:
        with torch.device("meta"):
            expected = {k: tuple(v.shape) for k, v in build().state_dict().items()}
    except (ValueError, TypeError, RuntimeError) as err:
        raise ModelError(f"{Path(folder) / stem}.json describes a network that cannot be built ({err}).") from None
    try:
        with safe_open(str(path), "pt") as f:
            stored = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}  # noqa: SIM118 - not a dict
    except (SafetensorError, OSError, ValueError) as err:
        raise ModelError(f"The weights file {path} is not a readable safetensors file ({err}).") from None
    for name, shape in expected.items():
        if stored.get(name) != shape:
            problem = f"it lacks {name}" if name not in stored else f"{name} has shape {stored[name]}, expected {shape}"
            raise ModelError(f"The weights in {path} do not fit the network described by {stem}.json: {problem}.")
