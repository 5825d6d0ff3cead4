"""Noise schedules: beta_t and everything derived from it, in float64, computed once.

Notation (Ho et al. 2020, "Denoising Diffusion Probabilistic Models"):
    beta_t                 variance of q(x_t | x_{t-1}) = N(sqrt(1 - beta_t) x_{t-1}, beta_t I)
    alpha_t = 1 - beta_t
    abar_t  = prod_{s<=t} alpha_s     so q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I)
    beta~_t = (1 - abar_{t-1}) / (1 - abar_t) * beta_t   variance of the posterior q(x_{t-1} | x_t, x_0)
    SNR(t)  = abar_t / (1 - abar_t)

Timesteps run 0..T-1 as in diffusers: t = 0 is already one noising step, and abar_{-1} = 1.
Schedules may be added, but the existing ones should not be changed: trained models depend on them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from diffusion_studio.errors import OptionError


class ScheduleKind(str, Enum):
    LINEAR = "linear"  # Ho et al. 2020, as diffusers' "linear"
    SCALED_LINEAR = "scaled_linear"  # linear in sqrt(beta), as diffusers' "scaled_linear"
    SIGMOID = "sigmoid"  # as diffusers' "sigmoid"
    COSINE = "cosine"  # Nichol & Dhariwal 2021, diffusers' "squaredcos_cap_v2"
    CUSTOM = "custom"  # user-given betas


SCHEDULE_NAMES = [k.value for k in ScheduleKind if k is not ScheduleKind.CUSTOM]
MIN_T, MAX_T = 2, 4000


@dataclass(frozen=True, eq=False)
class Schedule:
    """A fixed noise schedule. All arrays are float64 numpy arrays of length T, indexed by t = 0..T-1."""

    kind: str
    betas: np.ndarray
    beta_start: float = 1e-4
    beta_end: float = 0.02
    alphas: np.ndarray = field(init=False)
    alpha_bars: np.ndarray = field(init=False)
    alpha_bars_prev: np.ndarray = field(init=False)  # abar_{t-1}, with abar_{-1} = 1
    sqrt_alpha_bars: np.ndarray = field(init=False)
    sqrt_one_minus_alpha_bars: np.ndarray = field(init=False)
    posterior_variance: np.ndarray = field(init=False)  # beta~_t
    snr: np.ndarray = field(init=False)
    log_snr: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        betas = np.asarray(self.betas, dtype=np.float64)
        if betas.ndim != 1 or not (MIN_T <= len(betas) <= MAX_T):
            raise OptionError(f"A schedule needs between {MIN_T} and {MAX_T} betas, got shape {betas.shape}.")
        if not np.all(np.isfinite(betas)) or np.any(betas <= 0) or np.any(betas >= 1):
            raise OptionError("Every beta_t must be a finite number strictly between 0 and 1.")
        alphas = 1.0 - betas
        alpha_bars = np.cumprod(alphas)
        alpha_bars_prev = np.append(1.0, alpha_bars[:-1])
        derived = {
            "betas": betas,
            "alphas": alphas,
            "alpha_bars": alpha_bars,
            "alpha_bars_prev": alpha_bars_prev,
            "sqrt_alpha_bars": np.sqrt(alpha_bars),
            "sqrt_one_minus_alpha_bars": np.sqrt(1.0 - alpha_bars),
            # beta~_t (Ho et al. eq. 7); at t = 0 it is 0 since abar_{-1} = 1.
            "posterior_variance": (1.0 - alpha_bars_prev) / (1.0 - alpha_bars) * betas,
            "snr": alpha_bars / (1.0 - alpha_bars),
        }
        derived["log_snr"] = np.log(derived["snr"])
        for name, value in derived.items():
            value.setflags(write=False)
            object.__setattr__(self, name, value)

    @property
    def T(self) -> int:  # noqa: N802 - the paper's name
        return len(self.betas)

    def describe(self) -> str:
        if self.kind == ScheduleKind.CUSTOM.value:
            return f"custom, T={self.T}"
        if self.kind == ScheduleKind.COSINE.value:
            return f"cosine, T={self.T}"
        return f"{self.kind}, T={self.T}, beta {self.beta_start:g}..{self.beta_end:g}"

    def spec(self) -> dict:
        """A JSON-friendly description from which :func:`make_schedule` rebuilds this schedule."""
        if self.kind == ScheduleKind.CUSTOM.value:
            return {"kind": self.kind, "betas": self.betas.tolist()}
        return {"kind": self.kind, "T": self.T, "beta_start": self.beta_start, "beta_end": self.beta_end}

    def same_as(self, other: Schedule) -> bool:
        return self.T == other.T and bool(np.allclose(self.betas, other.betas, rtol=1e-9, atol=0))


def _cosine_betas(T: int, s: float = 0.008, max_beta: float = 0.999) -> np.ndarray:  # noqa: N803
    """Nichol & Dhariwal 2021, eq. 17: abar(t) = f(t)/f(0), f(t) = cos^2(((t/T + s)/(1 + s)) pi/2)."""

    def f(u: float) -> float:
        return math.cos((u + s) / (1 + s) * math.pi / 2) ** 2

    return np.array([min(1 - f((i + 1) / T) / f(i / T), max_beta) for i in range(T)], dtype=np.float64)


def make_schedule(
    kind: str = "linear",
    T: int = 1000,  # noqa: N803
    beta_start: float = 1e-4,
    beta_end: float = 0.02,
    betas: np.ndarray | list[float] | None = None,
) -> Schedule:
    """A named schedule (``linear``, ``scaled_linear``, ``sigmoid``, ``cosine``), or a custom one from ``betas``."""
    if betas is not None:
        return Schedule(ScheduleKind.CUSTOM.value, np.asarray(betas, dtype=np.float64))
    try:
        kind_enum = ScheduleKind(kind)
    except ValueError:
        raise OptionError(f"Unknown schedule '{kind}'; choose one of {', '.join(SCHEDULE_NAMES)}.") from None
    if not isinstance(T, (int, np.integer)) or not (MIN_T <= T <= MAX_T):
        raise OptionError(f"T must be a whole number from {MIN_T} to {MAX_T}, got {T!r}.")
    if not (0 < beta_start < beta_end < 1):
        raise OptionError(f"Need 0 < beta_start < beta_end < 1, got {beta_start:g} and {beta_end:g}.")
    if kind_enum is ScheduleKind.LINEAR:
        b = np.linspace(beta_start, beta_end, T, dtype=np.float64)
    elif kind_enum is ScheduleKind.SCALED_LINEAR:
        b = np.linspace(beta_start**0.5, beta_end**0.5, T, dtype=np.float64) ** 2
    elif kind_enum is ScheduleKind.SIGMOID:
        b = 1.0 / (1.0 + np.exp(-np.linspace(-6.0, 6.0, T, dtype=np.float64)))
        b = b * (beta_end - beta_start) + beta_start
    elif kind_enum is ScheduleKind.COSINE:
        b = _cosine_betas(int(T))
    else:  # CUSTOM without betas
        raise OptionError("A custom schedule needs its betas.")
    return Schedule(kind_enum.value, b, float(beta_start), float(beta_end))


def schedule_from_spec(spec: dict) -> Schedule:
    """Inverse of :meth:`Schedule.spec`."""
    if spec.get("kind") == ScheduleKind.CUSTOM.value:
        return make_schedule(betas=spec["betas"])
    return make_schedule(
        spec.get("kind", "linear"),
        int(spec.get("T", 1000)),
        float(spec.get("beta_start", 1e-4)),
        float(spec.get("beta_end", 0.02)),
    )
