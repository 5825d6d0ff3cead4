"""Helpers shared by the core tests."""

import numpy as np
import torch


def image_tensor(img: np.ndarray) -> torch.Tensor:
    """uint8 (H, W, C) -> (1, C, H, W) float in [-1, 1]."""
    return torch.from_numpy(img.astype(np.float32)).permute(2, 0, 1)[None] / 127.5 - 1
