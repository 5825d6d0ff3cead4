"""Helpers shared by the core tests."""

import numpy as np
import torch

from diffusion_studio.core._coeffs import alpha_bar_at
from diffusion_studio.models.base import ModelInfo, NoisePredictor


def image_tensor(img: np.ndarray) -> torch.Tensor:
    """uint8 (H, W, C) -> (1, C, H, W) float in [-1, 1]."""
    return torch.from_numpy(img.astype(np.float32)).permute(2, 0, 1)[None] / 127.5 - 1


class FakeNet(NoisePredictor):
    """Deterministic, smooth in t: eps output = the exact eps of x0 ~ N(0, 0.25 I) plus a fading cross-pixel term;
    x0 / v outputs depend on t strongly enough to show at which noise level they are read."""

    def __init__(self, prediction: str = "epsilon") -> None:
        self.info = ModelInfo("fake", None, None, prediction=prediction)

    def forward(self, x, t, schedule, y=None):
        t = torch.as_tensor(t).reshape(-1)
        tt = t.to(torch.float32).reshape(-1, 1, 1, 1)
        if self.info.prediction == "epsilon":
            a = alpha_bar_at(schedule.alpha_bars, t.expand(x.shape[0]), x)
            gaussian = (1 - a).sqrt() * x / (0.25 * a + 1 - a)
            return gaussian + 0.3 * a.sqrt() * torch.tanh(x.roll(1, -1)) * torch.sin(tt / 90)
        return 0.5 * torch.tanh(x) * torch.cos(tt / 40) + 0.1 * x.roll(1, -1)
