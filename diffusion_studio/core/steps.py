"""Single reverse steps as pure functions: explicit noise in, x_{t-1} and predicted x0 out.

Notation (Ho et al. 2020; Song et al. 2021 "DDIM"):
    eps_theta  the model's noise prediction at (x_t, t)          -> ``eps_pred``
    x0_hat     (x_t - sqrt(1 - abar_t) eps_theta) / sqrt(abar_t)  -> ``x0_pred``
    t_prev     the next timestep of the run (t - 1 for plain DDPM); abar_{-1} = 1
"""

from __future__ import annotations

import math
from enum import Enum
from typing import NamedTuple

import numpy as np
import torch

from diffusion_studio.core.schedules import Schedule
from diffusion_studio.errors import OptionError


class Variance(str, Enum):
    BETA = "beta"  # sigma_t^2 = beta_t (diffusers "fixed_large")
    BETA_TILDE = "beta_tilde"  # sigma_t^2 = beta~_t (diffusers "fixed_small")


class Spacing(str, Enum):
    LEADING = "leading"
    TRAILING = "trailing"
    LINSPACE = "linspace"
    KARRAS = "karras"  # Karras et al. 2022 eq. 5 sigmas (rho = 7): Euler, Heun and DPM-Solver++ only


class SamplerName(str, Enum):
    """The closed set of samplers; a plain string compares equal to its member (``"ddim" == SamplerName.DDIM``)."""

    DDPM = "ddpm"  # ancestral, Ho et al. 2020 Algorithm 2
    DDIM = "ddim"  # Song et al. 2021 eq. 12
    EULER = "euler"  # Karras et al. 2022, Algorithm 1 without the correction (k-diffusion sample_euler)
    HEUN = "heun"  # Karras et al. 2022, Algorithms 1 and 2 (churn)
    DPMPP_2M = "dpmpp_2m"  # Lu et al. 2022, DPM-Solver++(2M)

    @classmethod
    def parse(cls, name: str | SamplerName) -> SamplerName:
        """The member named ``name``, or :class:`OptionError` with the list of names."""
        try:
            return cls(name)
        except ValueError:
            names = ", ".join(m.value for m in cls)
            raise OptionError(f"Unknown sampler '{name}'; choose one of {names}.") from None

    @property
    def on_sigmas(self) -> bool:
        """True for the samplers that run on a sigma grid (Euler, Heun, DPM-Solver++) rather than DDPM/DDIM's t."""
        return self not in (SamplerName.DDPM, SamplerName.DDIM)


class StepResult(NamedTuple):
    """What :func:`ddpm_step` and :func:`ddim_step` return; unpacks as ``x_prev, x0_pred = ...``."""

    x_prev: torch.Tensor
    x0_pred: torch.Tensor


def ddpm_coefficients(sched: Schedule, t: int, t_prev: int | None = None) -> dict[str, float]:
    """The numbers of one DDPM step (for display and for :func:`ddpm_step`).

    For a respaced run (t_prev < t - 1) beta_t is replaced by 1 - abar_t / abar_{t_prev}
    (Nichol & Dhariwal 2021, sec. 4), which is beta_t itself when t_prev = t - 1.
    """
    t_prev = t - 1 if t_prev is None else t_prev
    abar_t = float(sched.alpha_bars[t])  # plain floats and math: numpy scalars cost ~1 us per operation
    abar_prev = 1.0 if t_prev < 0 else float(sched.alpha_bars[t_prev])
    beta_t = 1.0 - abar_t / abar_prev
    alpha_t = 1.0 - beta_t
    return {
        "abar_t": abar_t,
        "abar_prev": abar_prev,
        "beta_t": beta_t,
        "alpha_t": alpha_t,
        "beta_tilde": (1.0 - abar_prev) / (1.0 - abar_t) * beta_t,
        # mu_theta = (x_t - (1 - alpha_t)/sqrt(1 - abar_t) eps_theta) / sqrt(alpha_t)   (Ho et al. eq. 11)
        "eps_coef": (1.0 - alpha_t) / math.sqrt(1.0 - abar_t),
        "mean_scale": 1.0 / math.sqrt(alpha_t),
        # mu~_t = coef_x0 x0 + coef_xt x_t   (Ho et al. eq. 7)
        "coef_x0": math.sqrt(abar_prev) * beta_t / (1.0 - abar_t),
        "coef_xt": math.sqrt(alpha_t) * (1.0 - abar_prev) / (1.0 - abar_t),
    }


def ddpm_sigma(sched: Schedule, t: int, variance: str | Variance, t_prev: int | None = None) -> float:
    """sigma_t of the step; 0 at the last step (no noise is added to x_0)."""
    return _sigma(ddpm_coefficients(sched, t, t_prev), variance, t - 1 if t_prev is None else t_prev)


def _sigma(c: dict[str, float], variance: str | Variance, t_prev: int) -> float:
    if t_prev < 0:
        return 0.0
    var = c["beta_t"] if Variance(variance) is Variance.BETA else max(c["beta_tilde"], 1e-20)
    return math.sqrt(var)


def ddpm_step(
    sched: Schedule,
    x_t: torch.Tensor,
    t: int,
    eps_pred: torch.Tensor,
    noise: torch.Tensor | None,
    variance: str | Variance = Variance.BETA_TILDE,
    clip_x0: bool = False,
    t_prev: int | None = None,
    mean_shift: torch.Tensor | None = None,
    clip_range: float = 1.0,
    x0_given: torch.Tensor | None = None,
) -> StepResult:
    """One ancestral step x_{t-1} = mu_theta(x_t, t) + sigma_t z (Ho et al. 2020, Algorithm 2).

    Without clipping, mu_theta = (x_t - (1 - alpha_t)/sqrt(1 - abar_t) eps_theta) / sqrt(alpha_t).
    With ``clip_x0`` the predicted x0 is clipped to [-r, r] (``clip_range`` r, diffusers' ``clip_sample_range``)
    and the mean is the posterior mean mu~_t(x_t, x0_hat).
    ``mean_shift`` is added to the mean before the noise (classifier guidance, Dhariwal & Nichol Algorithm 1).
    ``noise`` (z) is ignored at the last step; it may be None there. ``x0_given``: the model's own x0-hat (an x0 or
    v model), used instead of the one from eps, with the posterior mean (diffusers' DDPM step for such models).
    """
    t_prev = t - 1 if t_prev is None else t_prev
    c = ddpm_coefficients(sched, t, t_prev)
    # x0_hat = (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t), as fused scalar ops (this runs every step)
    if x0_given is not None:
        x0_pred = x0_given.clone()
    else:
        x0_pred = torch.add(x_t, eps_pred, alpha=-math.sqrt(1.0 - c["abar_t"])).mul_(1.0 / math.sqrt(c["abar_t"]))
    if clip_x0 or x0_given is not None:
        if clip_x0:
            x0_pred.clamp_(-clip_range, clip_range)
        mean = torch.add(x_t * c["coef_xt"], x0_pred, alpha=c["coef_x0"])
    else:
        mean = torch.add(x_t, eps_pred, alpha=-c["eps_coef"]).mul_(c["mean_scale"])
    if mean_shift is not None:
        mean.add_(mean_shift)
    sigma = _sigma(c, variance, t_prev)
    if sigma > 0:
        if noise is None:
            raise OptionError("A DDPM step before the last one needs noise z.")
        mean.add_(noise, alpha=sigma)
    return StepResult(mean, x0_pred)


def ddim_sigma(sched: Schedule, t: int, t_prev: int, eta: float, final_abar: float = 1.0) -> float:
    """sigma_t(eta) = eta sqrt((1 - abar_prev)/(1 - abar_t)) sqrt(1 - abar_t/abar_prev)   (Song et al. eq. 16).

    ``final_abar``: abar_prev of the last step (t_prev < 0): 1, or abar_0 for diffusers' ``set_alpha_to_one=False``.
    """
    abar_t = float(sched.alpha_bars[t])
    abar_prev = final_abar if t_prev < 0 else float(sched.alpha_bars[t_prev])
    return eta * math.sqrt((1 - abar_prev) / (1 - abar_t) * (1 - abar_t / abar_prev))


def ddim_step(
    sched: Schedule,
    x_t: torch.Tensor,
    t: int,
    t_prev: int,
    eps_pred: torch.Tensor,
    eta: float = 0.0,
    noise: torch.Tensor | None = None,
    clip_x0: bool = False,
    clip_range: float = 1.0,
    final_abar: float = 1.0,
    x0_given: torch.Tensor | None = None,
) -> StepResult:
    """One DDIM step (Song et al. 2021, eq. 12):

        x_{t_prev} = sqrt(abar_prev) x0_hat + sqrt(1 - abar_prev - sigma_t^2) eps_theta + sigma_t z

    eta = 0 is deterministic; eta = 1 is DDPM-like. With ``clip_x0`` x0_hat is clipped to [-r, r] (``clip_range``,
    diffusers' ``clip_sample_range``; 1 by default) and the direction
    term uses the eps implied by the clipped x0_hat, eps = (x_t - sqrt(abar_t) x0_hat) / sqrt(1 - abar_t), as
    guided-diffusion's ``ddim_sample`` does (diffusers: ``use_clipped_model_output=True``). Keeping the model's own
    eps instead makes the two terms disagree; with classifier-free guidance 3 that sent digits to the wrong class.
    ``final_abar`` is abar_prev of the last step (t_prev < 0): 1 (the clean image), or abar_0 for diffusers'
    ``set_alpha_to_one=False``. ``x0_given``: the model's own x0-hat (an x0 or v model; ``eps_pred`` then the eps
    implied by it), used instead of the one from eps.
    """
    abar_t = float(sched.alpha_bars[t])
    abar_prev = final_abar if t_prev < 0 else float(sched.alpha_bars[t_prev])
    if x0_given is not None:
        x0_pred = x0_given.clone()
    else:
        x0_pred = torch.add(x_t, eps_pred, alpha=-math.sqrt(1.0 - abar_t)).mul_(1.0 / math.sqrt(abar_t))
    if clip_x0:
        x0_pred.clamp_(-clip_range, clip_range)
        eps_pred = torch.add(x_t, x0_pred, alpha=-math.sqrt(abar_t)).mul_(1.0 / math.sqrt(1.0 - abar_t))
    sigma = ddim_sigma(sched, t, t_prev, eta, final_abar)
    direction = math.sqrt(max(1.0 - abar_prev - sigma**2, 0.0))  # sqrt(1 - abar_prev - sigma_t^2)
    x_prev = torch.add(x0_pred * math.sqrt(abar_prev), eps_pred, alpha=direction)
    if sigma > 0:
        if noise is None:
            raise OptionError("A DDIM step with eta > 0 needs noise z.")
        x_prev.add_(noise, alpha=sigma)
    return StepResult(x_prev, x0_pred)


def ddim_timesteps(
    sched: Schedule, steps: int, spacing: str | Spacing = Spacing.LEADING, offset: int = 0
) -> list[int]:
    """Descending timesteps of a respaced run, as diffusers' ``timestep_spacing`` and ``steps_offset``.

    leading: offset + (0, T//n, 2T//n, ...);  trailing: round(T, T - T/n, ...) - 1;
    linspace: round(linspace(0, T-1, n)).
    The step after the last one goes to t_prev = -1 (the clean image). The offset shifts leading timesteps only, as
    in diffusers; one that would push them past T - 1 is refused (diffusers' schedulers index past their table).
    """
    T = sched.T  # noqa: N806
    if not isinstance(steps, (int, np.integer)) or not 1 <= steps <= T:
        raise OptionError(f"The number of steps must be a whole number from 1 to T = {T}, got {steps!r}.")
    kind = Spacing(spacing)
    if kind is Spacing.KARRAS:
        raise OptionError("Karras spacing is a sigma grid: it applies to euler, heun and dpmpp_2m, not DDPM/DDIM.")
    if kind is Spacing.LEADING:
        ts = (np.arange(0, steps) * (T // steps)).round()[::-1] + leading_offset(sched, steps, offset, T // steps)
    elif kind is Spacing.TRAILING:
        ts = np.round(np.arange(T, 0, -T / steps)) - 1
    else:
        ts = np.linspace(0, T - 1, steps).round()[::-1]
    return [int(v) for v in ts]


def leading_offset(sched: Schedule, steps: int, offset: int, ratio: int) -> int:
    """``offset`` (diffusers' ``steps_offset``) after checking that the shifted leading timesteps stay below T:
    the last of them is (steps - 1) * ratio + offset. OptionError with one sentence otherwise."""
    if not isinstance(offset, (int, np.integer)) or isinstance(offset, bool) or offset < 0:
        raise OptionError(f"The steps offset must be a whole number of at least 0, got {offset!r}.")
    top = (steps - 1) * ratio + int(offset)
    if top > sched.T - 1:
        raise OptionError(
            f"steps_offset {offset} would move the first of {steps} leading timesteps to t = {top}, past "
            f"T - 1 = {sched.T - 1}; choose fewer steps or another spacing."
        )
    return int(offset)


def parse_interval(text: str) -> tuple[float, float]:
    """``"LO,HI"`` -> (LO, HI), two finite numbers with LO <= HI; :class:`OptionError` otherwise."""
    parts = str(text).split(",")
    try:
        lo, hi = (float(p) for p in parts)
    except ValueError:
        raise OptionError(f"A t interval is two numbers LO,HI (for example 200,700), got '{text}'.") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and 0 <= lo <= hi):
        raise OptionError(f"A t interval needs 0 <= LO <= HI, got '{text}'.")
    return lo, hi


def previous_timesteps(timesteps: list[int]) -> list[int]:
    """t_prev for each t of a descending run: the next entry, and -1 after the last."""
    return list(timesteps[1:]) + [-1]
