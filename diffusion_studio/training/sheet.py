"""A contact sheet of samples from the EMA network while training: deterministic DDIM (Song et al. 2021).

One row per class (with classifier-free guidance, Ho & Salimans 2022) or an 8 x 8 grid for an
unconditional model; a fixed seed of its own, so sheets from different steps are comparable and the training
random state is never touched.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from diffusion_studio.core.guidance import guided_eps
from diffusion_studio.core.schedules import Schedule
from diffusion_studio.core.steps import ddim_step, ddim_timesteps
from diffusion_studio.io.atomic import atomic_write
from diffusion_studio.io.frames import to_uint8_batch
from diffusion_studio.models.unet import UNet


class _EpsOf:
    """The ``predict_eps`` that guidance needs, straight from the network (which predicts eps)."""

    def __init__(self, net: UNet) -> None:
        self.net = net

    def predict_eps(
        self, x_t: torch.Tensor, t: torch.Tensor, schedule: Schedule, y: torch.Tensor | None = None
    ) -> torch.Tensor:
        return self.net(x_t, t, y)


@torch.no_grad()
def sample_grid(
    net: UNet,
    schedule: Schedule,
    size: int,
    per_row: int = 8,
    steps: int = 50,
    cfg_scale: float = 2.0,
    seed: int = 0,
) -> np.ndarray:
    """(rows, per_row, H, W, C) uint8 samples: one row per class, or per_row rows for no classes."""
    was_training = net.training
    net.eval()
    cfg = net.config
    device = next(net.parameters()).device
    rows = cfg.num_classes or per_row
    model = _EpsOf(net)
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(rows * per_row, cfg.in_channels, size, size, generator=generator).to(device)
    y = torch.arange(rows, device=device).repeat_interleave(per_row) if cfg.num_classes else None
    timesteps = ddim_timesteps(schedule, min(steps, schedule.T))
    for t, t_prev in zip(timesteps, [*timesteps[1:], -1], strict=True):
        t_batch = torch.full((x.shape[0],), t, dtype=torch.long, device=device)
        eps = guided_eps(model, x, t_batch, schedule, y, cfg.num_classes, cfg_scale)
        x, _ = ddim_step(schedule, x, t, t_prev, eps, clip_x0=True)
    net.train(was_training)
    images = to_uint8_batch(x)
    return images.reshape(rows, per_row, *images.shape[1:])


def grid_image(grid: np.ndarray, gap: int = 2) -> np.ndarray:
    """(rows, cols, H, W, C) -> one (rows*H + gaps, cols*W + gaps, C) picture on white."""
    rows, cols, h, w, c = grid.shape
    out = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap, c), 255, np.uint8)
    for r in range(rows):
        for q in range(cols):
            out[r * (h + gap) : r * (h + gap) + h, q * (w + gap) : q * (w + gap) + w] = grid[r, q]
    return out


def save_sheet(path: Path, grid: np.ndarray, scale: int = 2) -> None:
    picture = grid_image(grid)
    im = Image.fromarray(picture[..., 0] if picture.shape[2] == 1 else picture)
    im = im.resize((im.width * scale, im.height * scale), Image.Resampling.NEAREST)
    atomic_write(path, lambda tmp: im.save(tmp, format="PNG"))
