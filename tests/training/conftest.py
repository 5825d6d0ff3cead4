"""Tiny training data made on the fly (tests never read /work/shared)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def toy_images(n: int = 24, side: int = 8, channels: int = 1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two easy classes: a bright left half (label 0) or a bright top half (label 1), plus a little noise."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    x = np.zeros((n, side, side, channels), np.float64)
    for i, label in enumerate(y):
        if label == 0:
            x[i, :, : side // 2] = 1.0
        else:
            x[i, : side // 2, :] = 1.0
    x = np.clip(x * 200 + 30 + rng.normal(0, 10, x.shape), 0, 255).astype(np.uint8)
    return x, y.astype(np.int64)


@pytest.fixture
def npz_path(tmp_path: Path) -> Path:
    x, y = toy_images()
    path = tmp_path / "toy.npz"
    np.savez(path, x=x[..., 0], y=y, classes=np.array(["left", "top"]))
    return path


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    x, y = toy_images(n=12, channels=3)
    root = tmp_path / "images"
    for i, (im, label) in enumerate(zip(x, y, strict=True)):
        folder = root / ("left" if label == 0 else "top")
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(im).save(folder / f"{i:02d}.png")
    return root


@pytest.fixture
def toy_dataset():
    """A labelled :class:`Dataset` of 32 toy images, 8 x 8 grey."""
    from diffusion_studio.training.data import Dataset

    x, y = toy_images(n=32)
    return Dataset(x, y, ("left", "top"), "toy")
