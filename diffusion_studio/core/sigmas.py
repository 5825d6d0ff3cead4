"""Sigma grids for the Karras-style samplers, built from a trained (discrete) schedule as diffusers builds them.

A VP sample x_t = sqrt(abar) x0 + sqrt(1 - abar) eps is the VE sample x = x0 + sigma eps divided by
sqrt(1 + sigma^2), with sigma = sqrt((1 - abar) / abar) (Karras et al. 2022, "Elucidating the Design Space",
Table 1, VP column). A grid is the sigmas a run visits, ending at 0 (the clean image; or at the smallest trained
sigma, diffusers' ``final_sigmas_type="sigma_min"``), and the model time fed to the network at each one: a trained
timestep, or between two of them by interpolating log sigma (diffusers' ``_sigma_to_t``). Each ``*_grid`` function
follows one diffusers scheduler's ``set_timesteps`` (0.42.1, with ``interpolation_type="linear"``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np
import torch

from diffusion_studio.core.schedules import Schedule, ScheduleKind
from diffusion_studio.core.steps import Spacing, leading_offset
from diffusion_studio.errors import OptionError

RHO = 7.0  # Karras et al. 2022, eq. 5 and sec. 3: rho = 7


@dataclass(frozen=True)
class SigmaGrid:
    """``sigmas``: n + 1 descending VE noise levels, the last 0 (or sigma_min). ``times``: the n model times.

    ``init_noise_sigma`` is diffusers' (float32) scale of a pure-noise start, latents = z * init_noise_sigma, in VE
    scale; ``start_scale`` is the same start in VP scale, x = start_scale * z.
    """

    sigmas: np.ndarray
    times: np.ndarray
    start_scale: float = 1.0
    init_noise_sigma: float = 1.0

    def __len__(self) -> int:
        return len(self.times)

    def alpha_bar(self, i: int) -> float:
        """abar of the i-th sigma: 1 / (1 + sigma^2)."""
        return 1.0 / (1.0 + float(self.sigmas[i]) ** 2)

    def rounded_times(self) -> list[int]:
        """The model times rounded to whole timesteps (for labels, the timeline and t_prev)."""
        return [int(round(float(t))) for t in self.times]

    def from_time(self, t0: float) -> SigmaGrid:
        """The tail of the grid whose model times are at most t0 (an SDEdit start); OptionError if none is."""
        keep = np.nonzero(np.asarray(self.times, dtype=np.float64) <= t0 + 1e-9)[0]
        if len(keep) == 0:
            raise OptionError("The SDEdit strength is too low for this number of steps: no step would run.")
        first = int(keep[0])
        return SigmaGrid(self.sigmas[first:], self.times[first:])


def float32_betas(sched: Schedule) -> torch.Tensor:
    """The schedule's betas made in float32 the way diffusers makes them (``torch.linspace`` in float32, squared
    in float32 for scaled_linear), not our float64 betas rounded: a third of the entries differ by one ulp, and at
    T = 2000 that moves a one-step run by 2e-3 through sigma_max. Custom and cosine betas are rounded (diffusers
    computes cosine betas in float64 too)."""
    kind, n, lo, hi = sched.kind, sched.T, sched.beta_start, sched.beta_end
    if kind == ScheduleKind.LINEAR.value:
        return torch.linspace(lo, hi, n, dtype=torch.float32)
    if kind == ScheduleKind.SCALED_LINEAR.value:
        return torch.linspace(lo**0.5, hi**0.5, n, dtype=torch.float32) ** 2
    if kind == ScheduleKind.SIGMOID.value:
        return torch.sigmoid(torch.linspace(-6, 6, n)) * (hi - lo) + lo
    return torch.tensor(sched.betas, dtype=torch.float32)


def trained_sigmas(sched: Schedule) -> np.ndarray:
    """sigma_t = sqrt((1 - abar_t) / abar_t) for t = 0..T-1 (ascending), computed in float32 as diffusers does.

    Deliberately float32 (betas -> cumprod -> sigma, as the diffusers schedulers store them): with the cosine
    schedule sigma_max is 2.0e4, and a one-ulp difference there changes a 10-step Heun run by about 1 %, so the
    grid must be rounded exactly as the reference implementation rounds it for the runs to agree.
    """
    alphas_cumprod = torch.cumprod(1.0 - float32_betas(sched), dim=0)
    return (((1 - alphas_cumprod) / alphas_cumprod) ** 0.5).numpy()


def sigma_to_t(sigma: np.ndarray, log_sigmas: np.ndarray) -> np.ndarray:
    """The continuous time of each sigma: log sigma interpolated between its two neighbouring timesteps.

    Clipped to [0, T - 1]; as diffusers' ``EulerDiscreteScheduler._sigma_to_t``.
    """
    sigma = np.asarray(sigma, dtype=np.float64)
    log_sigma = np.log(np.maximum(sigma, 1e-10))
    dists = log_sigma - log_sigmas[:, np.newaxis]
    low = np.cumsum(dists >= 0, axis=0).argmax(axis=0).clip(max=log_sigmas.shape[0] - 2)
    w = np.clip((log_sigmas[low] - log_sigma) / (log_sigmas[low] - log_sigmas[low + 1]), 0.0, 1.0)
    return ((1.0 - w) * low + w * (low + 1)).reshape(sigma.shape)


def karras_sigmas(sigma_min: float, sigma_max: float, n: int, rho: float = RHO) -> np.ndarray:
    """sigma_i = (sigma_max^(1/rho) + i/(n-1) (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho   (Karras eq. 5)."""
    ramp = np.linspace(0, 1, n)
    lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    return (hi + ramp * (lo - hi)) ** rho


def _check_steps(sched: Schedule, steps: int) -> None:
    if not isinstance(steps, (int, np.integer)) or not 1 <= steps <= sched.T:
        raise OptionError(f"The number of steps must be a whole number from 1 to T = {sched.T}, got {steps!r}.")


class FinalSigma(str, Enum):
    """Where a Euler or DPM-Solver++ run ends (diffusers' ``final_sigmas_type``)."""

    ZERO = "zero"  # the clean image
    SIGMA_MIN = "sigma_min"  # the smallest trained sigma, sigma(t = 0)


def final_sigma(sched: Schedule, final: str | FinalSigma) -> float:
    """The grid's last sigma: 0, or sigma_0 = sqrt((1 - abar_0) / abar_0) in float32 as diffusers computes it."""
    try:
        kind = FinalSigma(final)
    except ValueError:
        names = ", ".join(m.value for m in FinalSigma)
        raise OptionError(f"Unknown final sigma '{final}'; choose one of {names}.") from None
    return 0.0 if kind is FinalSigma.ZERO else float(trained_sigmas(sched)[0])


def _base_spacing(spacing: str | Spacing) -> tuple[Spacing, bool]:
    """(timestep spacing, karras?): ``karras`` alone means diffusers' default linspace with Karras sigmas."""
    kind = Spacing(spacing)
    return (Spacing.LINSPACE, True) if kind is Spacing.KARRAS else (kind, False)


def euler_grid(
    sched: Schedule,
    steps: int,
    spacing: str | Spacing = Spacing.LINSPACE,
    karras: bool = False,
    offset: int = 0,
    final: str = FinalSigma.ZERO,
) -> SigmaGrid:
    """The grid of diffusers' ``EulerDiscreteScheduler`` (and ``HeunDiscreteScheduler``, whose sigmas are the same).

    Timesteps by ``spacing`` (float32, as diffusers; ``offset`` is its ``steps_offset``, added to leading ones),
    sigmas interpolated at them; with Karras sigmas the range is [sigma(last timestep), sigma(first timestep)] and
    the times come from :func:`sigma_to_t`. ``final``: the last sigma (:class:`FinalSigma`).
    """
    _check_steps(sched, steps)
    kind, karras_from_name = _base_spacing(spacing)
    karras = karras or karras_from_name
    T, n = sched.T, int(steps)  # noqa: N806
    if kind is Spacing.LINSPACE:
        ts = np.linspace(0, T - 1, n, dtype=np.float32)[::-1].copy()
    elif kind is Spacing.LEADING:
        ts = (np.arange(0, n) * (T // n)).round()[::-1].copy().astype(np.float32)
        ts += leading_offset(sched, n, offset, T // n)
    else:
        ts = np.arange(T, 0, -T / n).round().copy().astype(np.float32) - 1
    table = trained_sigmas(sched)
    sigmas = np.interp(ts, np.arange(T), table)
    if karras:
        sigmas = karras_sigmas(float(sigmas[-1]), float(sigmas[0]), n)
        ts = sigma_to_t(sigmas, np.log(table))
    times = ts.astype(np.float32)
    sigmas = np.append(sigmas, final_sigma(sched, final))
    # diffusers' init_noise_sigma, in float32 as it computes it: sigma_max for linspace/trailing, else
    # sqrt(sigma_max^2 + 1)
    sigma_max = torch.tensor(sigmas, dtype=torch.float32).max()
    init = float(sigma_max if kind in (Spacing.LINSPACE, Spacing.TRAILING) else (sigma_max**2 + 1) ** 0.5)
    return SigmaGrid(sigmas, times, init / (1.0 + float(sigmas[0]) ** 2) ** 0.5, init)


def dpm_grid(
    sched: Schedule,
    steps: int,
    spacing: str | Spacing = Spacing.LINSPACE,
    karras: bool = False,
    offset: int = 0,
    final: str = FinalSigma.ZERO,
) -> SigmaGrid:
    """The grid of diffusers' ``DPMSolverMultistepScheduler`` (integer model times; ``lambda_min_clipped`` = -inf).

    Its linspace and leading spacings take n + 1 points and drop the last (unlike Euler's; ``offset``, its
    ``steps_offset``, is added to leading ones); Karras sigmas span the whole trained range, and their times are
    rounded (truncated for the cosine schedule, as diffusers does). ``final``: the last sigma (:class:`FinalSigma`).
    """
    _check_steps(sched, steps)
    kind, karras_from_name = _base_spacing(spacing)
    karras = karras or karras_from_name
    T, n = sched.T, int(steps)  # noqa: N806
    if kind is Spacing.LINSPACE:
        ts = np.linspace(0, T - 1, n + 1).round()[::-1][:-1].copy().astype(np.int64)
    elif kind is Spacing.LEADING:
        ts = (np.arange(0, n + 1) * (T // (n + 1))).round()[::-1][:-1].copy().astype(np.int64)
        ts += leading_offset(sched, n + 1, offset, T // (n + 1))
    else:
        ts = np.arange(T, 0, -T / n).round().copy().astype(np.int64) - 1
    table = trained_sigmas(sched)
    if karras:
        sigmas = karras_sigmas(float(table[0]), float(table[-1]), n)
        t_cont = sigma_to_t(sigmas, np.log(table))
        ts = (t_cont if sched.kind == ScheduleKind.COSINE.value else t_cont.round()).astype(np.int64)
    else:
        sigmas = np.interp(ts, np.arange(T), table)
    return SigmaGrid(np.append(sigmas, final_sigma(sched, final)), ts, 1.0)
