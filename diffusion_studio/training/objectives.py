"""The two training objectives: the DDPM noise-prediction loss and a noise-aware classifier's cross-entropy.

Both draw every random number from the caller's generator, in a fixed order, so a run is reproducible.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F  # noqa: N812 - the usual name
from torch import nn

from diffusion_studio.core.schedules import Schedule


@functools.lru_cache(maxsize=16)
def _alpha_bars(schedule: Schedule, device: torch.device) -> torch.Tensor:
    """abar_t, t = 0..T-1, as float32 on ``device``: looking t up there keeps a step free of host syncs."""
    return torch.tensor(schedule.alpha_bars.tolist(), dtype=torch.float32, device=device)


def _noisy(
    schedule: Schedule, x0: torch.Tensor, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """t ~ U{0..T-1}, eps ~ N(0, I), x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps (Ho et al. eq. 4)."""
    t = torch.randint(0, schedule.T, (x0.shape[0],), generator=gen, device=x0.device)
    eps = torch.randn(x0.shape, generator=gen, device=x0.device, dtype=x0.dtype)
    abar = _alpha_bars(schedule, x0.device)[t].to(x0.dtype).view(-1, *([1] * (x0.ndim - 1)))
    return t, eps, abar.sqrt() * x0 + (1.0 - abar).sqrt() * eps


def eps_loss(
    net: nn.Module,
    schedule: Schedule,
    x0: torch.Tensor,
    y: torch.Tensor | None,
    gen: torch.Generator,
    label_dropout: float = 0.1,
    null_class: int = 0,
    keep: slice | None = None,
) -> torch.Tensor:
    """DDPM Algorithm 1: || eps - eps_theta(sqrt(abar_t) x0 + sqrt(1 - abar_t) eps, t, y) ||^2.

    With labels, a fraction ``label_dropout`` of them is replaced by the null class so the same network also
    learns the unconditional eps (classifier-free guidance, Ho & Salimans 2022, Algorithm 1).
    """
    t, eps, x_t = _noisy(schedule, x0, gen)
    if y is not None:
        drop = torch.rand(y.shape, generator=gen, device=y.device) < label_dropout
        y = torch.where(drop, torch.full_like(y, null_class), y)
    if keep is not None:  # data-parallel: every draw was made for the whole batch; this process takes its share
        t, eps, x_t, y = t[keep], eps[keep], x_t[keep], None if y is None else y[keep]
    return F.mse_loss(net(x_t, t, y).float(), eps)


def classifier_loss(
    net: nn.Module,
    schedule: Schedule,
    x0: torch.Tensor,
    y: torch.Tensor | None,
    gen: torch.Generator,
    keep: slice | None = None,
) -> torch.Tensor:
    """Cross-entropy of p_phi(y | x_t, t) on noisy images at uniform t (Dhariwal & Nichol 2021, sec. 4)."""
    if y is None:
        raise ValueError("a classifier needs labels")
    t, _, x_t = _noisy(schedule, x0, gen)
    if keep is not None:
        t, x_t, y = t[keep], x_t[keep], y[keep]
    return F.cross_entropy(net(x_t, t).float(), y)
