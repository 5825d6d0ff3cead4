"""Pick schedule entries at timestep(s) t and shape them to broadcast against a batch of images."""

from __future__ import annotations

import numpy as np
import torch


def at(values: np.ndarray, t: int | torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """values[t] as a tensor with ``like``'s dtype/device, shaped (B, 1, 1, 1) for a tensor t, or a scalar.

    A negative t means "before the first step": it reads abar_{-1} = 1 for alpha-bar arrays, so callers
    pass only arrays for which that convention is right (see :func:`alpha_bar_at`).
    """
    if isinstance(t, torch.Tensor) and t.ndim > 0:
        idx = t.detach().to("cpu", torch.long).numpy()
        out = torch.as_tensor(values[idx], dtype=like.dtype, device=like.device)
        return out.reshape(-1, *([1] * (like.ndim - 1)))
    return torch.as_tensor(float(values[int(t)]), dtype=like.dtype, device=like.device)


def alpha_bar_at(alpha_bars: np.ndarray, t: int | torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """abar_t with the convention abar_t = 1 for every t < 0 (the clean image)."""
    padded = np.append(alpha_bars, 1.0)  # index -1 reads the appended 1.0
    t = t.clamp(min=-1) if isinstance(t, torch.Tensor) else max(int(t), -1)
    return at(padded, t, like)
