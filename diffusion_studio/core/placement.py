"""Where a sampler puts its model calls on the noise-level axis, log-SNR lambda = log(abar / (1 - abar)).

Kingma et al. 2021 ("Variational Diffusion Models", sec. 2) write every schedule as a function of lambda; on that
axis samplers can be compared whatever their time variable. Two cases:

- DDPM and DDIM call the model at whole timesteps t: lambda_t = log(abar_t / (1 - abar_t)).
- Euler, Heun and DPM-Solver++ call it on a VE sigma grid. The VP sample at sigma has abar = 1 / (1 + sigma^2)
  (Karras et al. 2022, Table 1, VP column), so lambda = log(1 / sigma^2) = -2 log sigma, whatever (fractional or
  rounded) model time the network is fed there.

Heun (Karras et al. 2022, Algorithm 2) makes two calls in step i: D(x^; sigma^_i) with sigma^_i = (1 + gamma_i)
sigma_i (sigma_i itself without churn), then, unless sigma_{i+1} = 0, the correction D(x_{i+1}; sigma_{i+1}).
Without churn the correction sits at the next step's noise level (the same lambda, a second model call there);
with churn the first call moves to sigma^_i, below lambda_i. Classifier-free guidance doubles the work of a call
but not its place, so it is not counted here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

import numpy as np

from diffusion_studio.core.plan import SamplingPlan
from diffusion_studio.core.schedules import Schedule
from diffusion_studio.core.sigmas import sigma_to_t, trained_sigmas
from diffusion_studio.core.steps import SamplerName


class CallKind(str, Enum):
    STEP = "step"  # the step's own (first) model call, at the noise level of its x_t (or sigma^ with churn)
    CORRECTION = "correction"  # Heun's second evaluation, at sigma_{i+1}


@dataclass(frozen=True)
class Placement:
    """The model calls of one plan, in the order the sampler makes them.

    ``step[k]``: the step (0-based) call k belongs to; ``kind[k]``: a :class:`CallKind`; ``log_snr[k]``: lambda of
    the sample the model sees; ``time[k]``: the model time fed to the network (fractional on Karras sigmas).
    """

    sampler: str
    spacing: str
    step: np.ndarray
    kind: tuple[CallKind, ...]
    log_snr: np.ndarray
    time: np.ndarray

    @property
    def calls(self) -> int:
        return len(self.kind)

    @property
    def steps(self) -> int:
        return int(self.step[-1]) + 1 if len(self.step) else 0

    def mask(self, kind: CallKind) -> np.ndarray:
        return np.array([k is kind for k in self.kind], dtype=bool)

    @property
    def label(self) -> str:
        """e.g. "heun, karras: 10 steps, 19 calls"."""
        return f"{self.sampler}, {self.spacing}: {self.steps} steps, {self.calls} calls"


def sigma_log_snr(sigma: np.ndarray | float) -> np.ndarray:
    """lambda = -2 log sigma (abar = 1 / (1 + sigma^2)); sigma = 0 (the clean image) gives +inf."""
    sigma = np.asarray(sigma, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return -2.0 * np.log(sigma)


def step_placement(plan: SamplingPlan, sched: Schedule) -> Placement:
    """The log-SNR (and model time) of every model call ``plan`` makes on ``sched`` (SDEdit starts cut, as run)."""
    kind = plan.sampler_name
    spacing = plan.spacing_name.value
    if not kind.on_sigmas:
        ts = np.asarray(plan.timesteps(sched), dtype=np.int64)
        n = len(ts)
        lam = np.asarray(sched.log_snr, dtype=np.float64)[ts]
        return Placement(kind.value, spacing, np.arange(n), (CallKind.STEP,) * n, lam, ts.astype(np.float64))
    grid = plan.grid(sched)
    sigmas = np.asarray(grid.sigmas, dtype=np.float64)
    times = np.asarray(grid.times, dtype=np.float64)
    n = len(grid)
    if kind is not SamplerName.HEUN:
        return Placement(kind.value, spacing, np.arange(n), (CallKind.STEP,) * n, sigma_log_snr(sigmas[:-1]), times)
    gamma = min(plan.churn / n, math.sqrt(2.0) - 1.0) if plan.churn > 0 else 0.0
    log_table = np.log(trained_sigmas(sched))
    step, kinds, lam, time = [], [], [], []
    for i in range(n):
        s_hat = sigmas[i] * (1.0 + gamma)
        step.append(i)
        kinds.append(CallKind.STEP)
        lam.append(float(sigma_log_snr(s_hat)))
        time.append(times[i] if gamma == 0 else float(sigma_to_t(np.array(s_hat), log_table)))
        if sigmas[i + 1] != 0:
            step.append(i)
            kinds.append(CallKind.CORRECTION)
            lam.append(float(sigma_log_snr(sigmas[i + 1])))
            time.append(times[i + 1])
    return Placement(kind.value, spacing, np.asarray(step), tuple(kinds), np.asarray(lam), np.asarray(time))


def nearest_t(sched: Schedule, log_snr: float) -> int:
    """The whole timestep whose lambda_t is nearest to ``log_snr`` (lambda_t falls with t; the ends clamp)."""
    return nearest_index(sched.log_snr, log_snr)


def nearest_index(table: np.ndarray, log_snr: float) -> int:
    """The index t of a falling table lambda_0 > lambda_1 > ... nearest to ``log_snr`` (ties: the larger t)."""
    lam = np.asarray(table, dtype=np.float64)
    if not math.isfinite(log_snr):
        return 0 if log_snr > 0 else len(lam) - 1
    rising = lam[::-1]  # ascending: index j is t = T - 1 - j
    j = int(np.searchsorted(rising, log_snr))
    near = [k for k in (j - 1, j) if 0 <= k < len(rising)]
    best = min(near, key=lambda k: (abs(rising[k] - log_snr), k))
    return len(lam) - 1 - best
