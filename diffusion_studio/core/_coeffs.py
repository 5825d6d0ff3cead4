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


def _is_fractional(t: int | float | torch.Tensor) -> bool:
    if isinstance(t, torch.Tensor):
        return t.is_floating_point()
    return isinstance(t, float) and not float(t).is_integer()


def interpolated_alpha_bar(alpha_bars: np.ndarray, t: np.ndarray | float) -> np.ndarray:
    """abar at a continuous time t in [0, T - 1], as diffusers' discrete Karras schedulers read the schedule.

    log sigma, with sigma = sqrt((1 - abar) / abar), is interpolated linearly between the two neighbouring
    timesteps (the inverse of diffusers' ``_sigma_to_t``), and abar = 1 / (1 + sigma^2). At a whole t this is
    abar_t itself; t < 0 reads 1 (the clean image); t above T - 1 reads abar_{T-1}.
    """
    t = np.asarray(t, dtype=np.float64)
    log_sigmas = 0.5 * np.log((1.0 - alpha_bars) / alpha_bars)
    sigma = np.exp(np.interp(t, np.arange(len(alpha_bars)), log_sigmas))
    return np.where(t < 0, 1.0, 1.0 / (1.0 + sigma**2))


def alpha_bar_at(alpha_bars: np.ndarray, t: int | float | torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """abar_t with the convention abar_t = 1 for every t < 0 (the clean image); a float t is interpolated."""
    if _is_fractional(t):
        values = t.detach().to("cpu", torch.float64).numpy() if isinstance(t, torch.Tensor) else t
        out = torch.as_tensor(interpolated_alpha_bar(alpha_bars, values), dtype=like.dtype, device=like.device)
        if isinstance(t, torch.Tensor) and t.ndim > 0:
            return out.reshape(-1, *([1] * (like.ndim - 1)))
        return out.reshape(())
    padded = np.append(alpha_bars, 1.0)  # index -1 reads the appended 1.0
    t = t.clamp(min=-1) if isinstance(t, torch.Tensor) else max(int(t), -1)
    return at(padded, t, like)
