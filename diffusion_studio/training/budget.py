"""Will a training run fit in memory? Estimated before the data is loaded or a network is built.

The data are held as one uint8 array (N x S x S x C bytes). The network's parameter count comes from building
it on PyTorch's ``meta`` device (no memory); AdamW training holds each parameter five times (weights, gradient,
two moments, EMA copy) in float32. Activations kept for the backward pass are estimated as
``batch x width x S^2 x 4 bytes x 48`` (measured order of magnitude for this U-Net; a generous bound).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import torch

from diffusion_studio.commands.arguments import check_memory
from diffusion_studio.training.data import IMAGE_SUFFIXES

ACTIVATION_FACTOR = 48
PARAMETER_COPIES = 5


def dataset_shape(path: str | Path) -> tuple[int, int, int] | None:
    """(images, side, channels) of an .npz's ``x`` read from its header only, or None when unknown."""
    path = Path(path).expanduser()
    if path.suffix.lower() != ".npz" or not path.is_file():
        return None
    try:
        with zipfile.ZipFile(path) as z, z.open("x.npy") as f:
            major, _ = np.lib.format.read_magic(f)
            read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
            shape, _, _ = read_header(f)  # the header only, no data
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None
    if len(shape) not in (3, 4) or not shape:
        return None
    return int(shape[0]), int(shape[1]), int(shape[3]) if len(shape) == 4 else 1


def image_count(path: str | Path) -> int | None:
    """How many image files a training folder holds (None for anything else)."""
    path = Path(path).expanduser()
    if not path.is_dir():
        return None
    return sum(1 for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


def count_parameters_of(build) -> int:
    """Parameters of the module ``build()`` makes, built on the meta device (no memory is used)."""
    with torch.device("meta"):
        module = build()
    return sum(p.numel() for p in module.parameters())


def check_training_fits(
    data: str | Path, size: int | None, channels: int | None, batch: int, width: int, build
) -> None:
    """Refuse (OptionError) a run whose data, network and activations exceed the free memory."""
    shape = dataset_shape(data)
    count = shape[0] if shape else image_count(data)
    side = size or (shape[1] if shape else None)
    chans = channels or (shape[2] if shape else 3)
    data_bytes = (count or 0) * (side or 0) ** 2 * chans
    params = count_parameters_of(build)
    activations = batch * width * (side or 0) ** 2 * 4 * ACTIVATION_FACTOR
    check_memory(
        data_bytes + params * 4 * PARAMETER_COPIES + activations,
        f"Training a {params / 1e6:,.1f}M-parameter network on {count or 'the'} images"
        + (f" of {side}x{side}" if side else ""),
        "lower --width, --batch or --size",
    )
