"""Error lens: per step, how far a run's x_t and x0-hat are from a reference's at the same noise level.

The reference is the same start integrated far more finely: every interval [sigma_i, sigma_{i+1}] of the run
is cut into ``substeps`` log-uniform Heun steps (Karras et al. 2022, Algorithm 1) on the probability-flow ODE.
At each of the run's sigmas the reference's x0-hat is the model evaluated at the reference's x: for the
closed-form models (``ideal``, ``gaussian``) that is the exact posterior mean E[x0 | x_t], so the curves show the
sampler's own discretisation error and nothing else. For a trained model it is a same-noise run with many steps.
A stochastic run (DDPM, DDIM with eta > 0, Heun with churn) is measured against the deterministic ODE path, so
its curve shows how far the noise took it, not an error.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from diffusion_studio.core.karras import _denoiser
from diffusion_studio.core.samplers import Guidance, Step
from diffusion_studio.core.schedules import Schedule
from diffusion_studio.core.sigmas import sigma_to_t, trained_sigmas


@dataclass(frozen=True)
class ErrorCurve:
    """Root-mean-square distances per step (index i: the run's step i) and of the final image."""

    sigmas: np.ndarray  # the run's sigma at each step
    times: np.ndarray  # the run's model time at each step
    x_t: np.ndarray  # RMS(x_t - reference x_t)
    x0: np.ndarray  # RMS(x0_hat - reference x0_hat)
    final: float  # RMS(final image - reference final image)
    calls: int  # model calls the run made
    reference_calls: int


def _rms(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.sqrt(torch.mean((a.double() - b.double()) ** 2)))


def _step_sigma(step: Step, sched: Schedule) -> float:
    abar = step.abar(sched)
    return math.sqrt((1.0 - abar) / abar)


class _Reference:
    """The probability-flow ODE integrated with Heun steps at continuous model times."""

    def __init__(self, model, sched: Schedule, guidance: Guidance | None, like: torch.Tensor) -> None:
        self.den = _denoiser(model, sched, guidance, like)
        self.log_table = np.log(trained_sigmas(sched).astype(np.float64))
        self.sigma_min = float(np.exp(self.log_table[0]))
        self.calls = 0

    def denoise(self, x: torch.Tensor, sigma: float) -> torch.Tensor:
        """D(x; sigma) for a VE sample x."""
        self.calls += 1
        time = float(sigma_to_t(np.array(sigma), self.log_table))
        abar = 1.0 / (1.0 + sigma * sigma)
        return self.den.denoise(x, x * math.sqrt(abar), sigma, time, abar)[0]

    def integrate(self, x: torch.Tensor, s_from: float, s_to: float, substeps: int, d0: torch.Tensor) -> torch.Tensor:
        """Heun from s_from down to s_to (> 0) in ``substeps`` log-uniform steps; ``d0`` is D(x; s_from)."""
        grid = np.exp(np.linspace(math.log(s_from), math.log(s_to), substeps + 1))
        for j, (s, s_next) in enumerate(zip(grid[:-1], grid[1:], strict=True)):
            d = (x - (d0 if j == 0 else self.denoise(x, float(s)))) / s
            x_pred = x + (s_next - s) * d
            d2 = (x_pred - self.denoise(x_pred, float(s_next))) / s_next
            x = x + (s_next - s) * (d + d2) / 2
        return x


def error_curve(
    model,
    sched: Schedule,
    steps: Sequence[Step],
    *,
    guidance: Guidance | None = None,
    substeps: int = 8,
) -> ErrorCurve:
    """Compare a recorded run with its reference (see the module docstring): about 2 substeps model calls a step."""
    if not steps:
        raise ValueError("error_curve needs at least one recorded step")
    sigmas = [_step_sigma(s, sched) for s in steps]
    ref = _Reference(model, sched, guidance, steps[0].x_t)
    x = steps[0].x_t / math.sqrt(steps[0].abar(sched))  # VE scale
    err_xt, err_x0 = [], []
    for i, step in enumerate(steps):
        s = sigmas[i]
        x_ref_vp = x / math.sqrt(1.0 + s * s)
        x0_ref = ref.denoise(x, s)
        err_xt.append(_rms(step.x_t, x_ref_vp))
        err_x0.append(_rms(step.x0_pred, x0_ref))
        s_next = sigmas[i + 1] if i + 1 < len(steps) else 0.0
        if s_next > 0:
            x = ref.integrate(x, s, s_next, substeps, x0_ref)
        elif ref.sigma_min < s * (1 - 1e-9):  # on to the smallest trained sigma, then Euler to 0 lands on D(x; .)
            x = ref.denoise(ref.integrate(x, s, ref.sigma_min, substeps, x0_ref), ref.sigma_min)
        else:
            x = x0_ref
    final = _rms(steps[-1].x_prev, x)
    return ErrorCurve(
        np.array(sigmas),
        np.array([s.time if s.time is not None else s.t for s in steps], dtype=np.float64),
        np.array(err_xt),
        np.array(err_x0),
        final,
        sum(s.calls for s in steps),
        ref.calls,
    )
