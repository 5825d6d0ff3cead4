"""Samplers on a sigma grid: Euler, Heun (Karras et al. 2022) and DPM-Solver++(2M) (Lu et al. 2022).

Each is a small generator yielding one :class:`Step` per step, in the model's own (VP) scale, so every pane,
lens and export works with them. Notation (Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based
Generative Models", Table 1, VP column): the VE sample x = x0 + sigma eps is the VP sample times
sqrt(1 + sigma^2), and the denoiser is D(x; sigma) = x - sigma eps_theta(x / sqrt(1 + sigma^2), t(sigma)).
The probability-flow ODE is dx/dsigma = (x - D(x; sigma)) / sigma (their eq. 1 with sigma(t) = t, s(t) = 1).
The grids come from :mod:`.sigmas`; with them the runs equal diffusers' ``EulerDiscreteScheduler``,
``HeunDiscreteScheduler`` and ``DPMSolverMultistepScheduler(algorithm_type="dpmsolver++", solver_order=2)``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from diffusion_studio.core.cancel import CancelToken
from diffusion_studio.core.guidance import classifier_log_prob_grad, ddim_classifier_eps, guided_eps_parts
from diffusion_studio.core.parameterization import Prediction
from diffusion_studio.core.samplers import Guidance, Step, _check_finite, _noise, raw_prediction
from diffusion_studio.core.schedules import Schedule
from diffusion_studio.core.sigmas import (
    FinalSigma,
    SigmaGrid,
    dpm_grid,
    euler_grid,
    sigma_to_t,
    trained_sigmas,
)
from diffusion_studio.core.steps import SamplerName, Spacing
from diffusion_studio.errors import OptionError


@dataclass
class _Denoiser:
    """eps_theta at one (x_t, model time), with classifier-free and classifier guidance as the DDIM path has them."""

    model: object
    sched: Schedule
    guidance: Guidance
    y: torch.Tensor | None
    delta: torch.Tensor | None = None  # eps_cond - eps_uncond of the last call (None when not guided)

    def eps(self, x_vp: torch.Tensor, time: float | int, abar: float) -> torch.Tensor:
        g = self.guidance
        dtype = torch.long if isinstance(time, (int, np.integer)) else torch.float32
        t_batch = torch.full((x_vp.shape[0],), time, dtype=dtype, device=x_vp.device)
        eps, self.delta = guided_eps_parts(
            self.model, x_vp, t_batch, self.sched, self.y, g.null_class, g.cfg_scale_at(float(time))
        )
        _check_finite(eps, time)
        if g.classifier is not None and g.classifier_scale != 0 and self.y is not None:  # Dhariwal & Nichol Alg. 2
            grad = classifier_log_prob_grad(g.classifier, x_vp, t_batch, self.y)
            eps = ddim_classifier_eps(eps, abar, grad, g.classifier_scale)
        return eps

    def _raw_kind(self) -> str | None:
        """ "sample" or "v_prediction" when the model's raw output can be read directly, else None (through eps)."""
        g = self.guidance
        # a wrapper that forwards attributes (a call counter, say) wraps predict_eps only: read it through that
        return raw_prediction(self.model, g.classifier is not None and g.classifier_scale != 0 and self.y is not None)

    def _raw(self, x_vp: torch.Tensor, time: float | int) -> tuple[torch.Tensor, torch.Tensor | None]:
        g = self.guidance
        dtype = torch.long if isinstance(time, (int, np.integer)) else torch.float32
        t_batch = torch.full((x_vp.shape[0],), time, dtype=dtype, device=x_vp.device)
        with torch.no_grad():
            out, delta = guided_eps_parts(
                self.model,
                x_vp,
                t_batch,
                self.sched,
                self.y,
                g.null_class,
                g.cfg_scale_at(float(time)),
                self.model.forward,
            )
        _check_finite(out, time)
        return out, delta

    def denoise(
        self, x: torch.Tensor, x_vp: torch.Tensor, sigma: torch.Tensor, time: float | int, abar: float
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(D(x; sigma), eps-hat) for the VE sample x (``x_vp`` the model's input), as diffusers' Euler and Heun
        read the model: eps -> x - sigma eps; x0 -> the output; v -> -sigma/sqrt(sigma^2 + 1) v + x/(sigma^2 + 1)."""
        kind = self._raw_kind()
        if kind is None:
            eps = self.eps(x_vp, time, abar)
            return x - sigma * eps, eps
        out, delta = self._raw(x_vp, time)
        if kind == Prediction.SAMPLE.value:
            denoised = out
        else:
            denoised = out * (-sigma / (sigma**2 + 1) ** 0.5) + (x / (sigma**2 + 1))
        # the guidance difference in eps terms: eps = (x - D) / sigma
        if delta is not None:
            delta = -delta / sigma if kind == Prediction.SAMPLE.value else delta / (sigma**2 + 1) ** 0.5
        self.delta = delta
        return denoised, (x - denoised) / sigma

    def x0_eps(
        self, x: torch.Tensor, time: int, alpha: torch.Tensor, s: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(x0-hat, eps-hat) of a VP sample x = alpha x0 + s eps, as diffusers' DPM-Solver reads the model output.

        An x0- or v-predicting model's raw output is read at this (alpha, s), the grid's noise level, and not at
        its integer model time's (they differ on Karras sigmas); an eps model, or classifier guidance, goes
        through :meth:`eps`.
        """
        kind = self._raw_kind()
        if kind is None:
            eps = self.eps(x, time, float(alpha) ** 2)
            return (x - s * eps) / alpha, eps
        out, delta = self._raw(x, time)
        x0 = out if kind == Prediction.SAMPLE.value else alpha * x - s * out  # v: x0 = alpha x - s v
        # the guidance difference in eps terms: eps = (x - alpha x0) / s, so d eps = -(alpha / s) d x0
        if delta is not None:
            delta = -(alpha / s) * (delta if kind == Prediction.SAMPLE.value else -s * delta)
        self.delta = delta
        return x0, (x - alpha * x0) / s


def _denoiser(model, sched: Schedule, guidance: Guidance | None, x: torch.Tensor) -> _Denoiser:
    guidance = guidance or Guidance()
    y = None
    if guidance.label is not None:
        y = torch.full((x.shape[0],), int(guidance.label), dtype=torch.long, device=x.device)
    return _Denoiser(model, sched, guidance, y)


def _f32(values) -> torch.Tensor:
    """Scalars as float32 tensors: the step arithmetic is done exactly as diffusers does it (float32, same order),
    because at sigma_max ~ 2e4 (cosine schedule) one rounding of x is amplified into the whole run."""
    return torch.as_tensor(np.asarray(values, dtype=np.float64), dtype=torch.float32)


def _ve_scale(sigma: torch.Tensor) -> torch.Tensor:
    """sqrt(sigma^2 + 1): x_VE = x_VP sqrt(sigma^2 + 1), and 1 / sqrt(sigma^2 + 1) = sqrt(abar)."""
    return (sigma**2 + 1) ** 0.5


def _ve_start(x_start: torch.Tensor, ve0: torch.Tensor, grid: SigmaGrid, noise: torch.Tensor | None) -> torch.Tensor:
    """The VE start: ``start_noise`` z times init_noise_sigma exactly as diffusers' pipeline makes its latents (one
    rounding less than going through the VP ``x_start``, which matters at sigma_max ~ 2e4), else x_start scaled."""
    return x_start * ve0 if noise is None else noise * _f32(grid.init_noise_sigma)


def _labels(grid: SigmaGrid) -> list[int]:
    """Whole timesteps for the Steps' t and t_prev: the rounded model times, then -1 (the clean image)."""
    return [*grid.rounded_times(), -1]


def euler_sampler(
    model,
    sched: Schedule,
    x_start: torch.Tensor,
    grid: SigmaGrid,
    *,
    guidance: Guidance | None = None,
    cancel: CancelToken | None = None,
    start_noise: torch.Tensor | None = None,
) -> Iterator[Step]:
    """Euler steps on the probability-flow ODE (Karras et al. 2022, Algorithm 1 without the 2nd-order correction):

        d_i = (x_i - D(x_i; sigma_i)) / sigma_i,    x_{i+1} = x_i + (sigma_{i+1} - sigma_i) d_i

    ``x_start`` is the VP sample at ``grid.sigmas[0]``; for a pure-noise start, ``start_noise`` (z, with
    x_start = z grid.start_scale) starts exactly where diffusers' pipeline does. One model call per step.
    """
    den = _denoiser(model, sched, guidance, x_start)
    s = _f32(grid.sigmas)
    ve = [_ve_scale(v) for v in s]  # one scalar at a time, as diffusers computes them
    labels = _labels(grid)
    x = _ve_start(x_start, ve[0], grid, start_noise)
    x_vp = x / ve[0]  # the model's input, as diffusers' scale_model_input computes it
    for i in range(len(grid)):
        if cancel is not None and cancel.cancelled:
            return
        denoised, eps = den.denoise(x, x_vp, s[i], grid.times[i].item(), grid.alpha_bar(i))  # D(x_i; sigma_i)
        delta = den.delta
        d = (x - denoised) / s[i]
        x_next = x + d * (s[i + 1] - s[i])
        x_next_vp = x_next / ve[i + 1]
        t, t_prev = labels[i], labels[i + 1]
        yield Step(
            i, len(grid), t, t_prev, x_vp, denoised, eps, x_next_vp, 1, float(grid.times[i]), grid.alpha_bar(i), delta
        )
        x, x_vp = x_next, x_next_vp


def heun_sampler(
    model,
    sched: Schedule,
    x_start: torch.Tensor,
    grid: SigmaGrid,
    *,
    guidance: Guidance | None = None,
    churn: float = 0.0,
    s_tmin: float = 0.0,
    s_tmax: float = float("inf"),
    s_noise: float = 1.0,
    generator: torch.Generator | None = None,
    cancel: CancelToken | None = None,
    start_noise: torch.Tensor | None = None,
) -> Iterator[Step]:
    """Heun's 2nd-order method (Karras et al. 2022, Algorithm 2; ``churn`` = 0 is their deterministic Algorithm 1):

        gamma_i = min(S_churn / N, sqrt(2) - 1) if S_tmin <= sigma_i <= S_tmax else 0,  sigma^ = (1 + gamma_i) sigma_i
        x^ = x_i + sqrt(sigma^^2 - sigma_i^2) S_noise z
        d = (x^ - D(x^; sigma^)) / sigma^,   x_{i+1} = x^ + (sigma_{i+1} - sigma^) d
        if sigma_{i+1} != 0:  d' = (x_{i+1} - D(x_{i+1}; sigma_{i+1})) / sigma_{i+1},
                              x_{i+1} = x^ + (sigma_{i+1} - sigma^) (d + d') / 2

    Two model calls per step, one on the last (to sigma = 0). ``x0_pred``/``eps_pred`` are the first call's.
    With churn, the model time of sigma^ is interpolated (clipped to the trained range, as k-diffusion's wrappers).
    """
    den = _denoiser(model, sched, guidance, x_start)
    s = _f32(grid.sigmas)
    n = len(grid)
    log_table = np.log(trained_sigmas(sched))
    ve = [_ve_scale(v) for v in s]  # one scalar at a time, as diffusers computes them
    labels = _labels(grid)
    x = _ve_start(x_start, ve[0], grid, start_noise)
    x_vp = x / ve[0]  # the model's input, as diffusers' scale_model_input computes it
    for i in range(n):
        if cancel is not None and cancel.cancelled:
            return
        s_i = float(s[i])
        gamma = min(churn / n, math.sqrt(2.0) - 1.0) if churn > 0 and s_tmin <= s_i <= s_tmax else 0.0
        s_hat, x_hat, x_in, time, abar = s[i], x, x_vp, grid.times[i].item(), grid.alpha_bar(i)
        if gamma > 0:
            s_hat = s[i] * (gamma + 1)
            x_hat = x + _noise(x, generator) * (s_noise * (s_hat**2 - s[i] ** 2) ** 0.5)
            x_in = x_hat / _ve_scale(s_hat)
            time, abar = float(sigma_to_t(np.array(float(s_hat)), log_table)), 1.0 / (1.0 + float(s_hat) ** 2)
        denoised, eps = den.denoise(x_hat, x_in, s_hat, time, abar)
        delta = den.delta
        d = (x_hat - denoised) / s_hat
        dt = s[i + 1] - s_hat
        x_next = x_hat + d * dt
        calls = 1
        if s[i + 1] != 0:
            denoised2, _ = den.denoise(
                x_next, x_next / ve[i + 1], s[i + 1], grid.times[i + 1].item(), grid.alpha_bar(i + 1)
            )
            d2 = (x_next - denoised2) / s[i + 1]
            x_next = x_hat + (d + d2) / 2 * dt
            calls = 2
        x_next_vp = x_next / ve[i + 1]
        t, t_prev = labels[i], labels[i + 1]
        yield Step(
            i, n, t, t_prev, x_vp, denoised, eps, x_next_vp, calls, float(grid.times[i]), grid.alpha_bar(i), delta
        )
        x, x_vp = x_next, x_next_vp


def _alpha_sigma(sigma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """VP coefficients of a VE sigma: alpha = 1 / sqrt(1 + sigma^2) = sqrt(abar), s = sigma alpha = sqrt(1 - abar)."""
    alpha = 1 / _ve_scale(sigma)
    return alpha, sigma * alpha


def dpmpp_2m_sampler(
    model,
    sched: Schedule,
    x_start: torch.Tensor,
    grid: SigmaGrid,
    *,
    guidance: Guidance | None = None,
    cancel: CancelToken | None = None,
    start_noise: torch.Tensor | None = None,
    lower_order_final: bool = True,
    euler_at_final: bool = False,
) -> Iterator[Step]:
    """DPM-Solver++(2M) in VP form (Lu et al. 2022, "DPM-Solver++", Algorithm 2; data prediction, midpoint):

        alpha_i = 1 / sqrt(1 + sigma_i^2),  s_i = sigma_i alpha_i,  lambda_i = log(alpha_i / s_i)
        h = lambda_{i+1} - lambda_i,  x0_i = (x_i - s_i eps_theta) / alpha_i
        D = x0_i                                     (first step)
        D = x0_i + (x0_i - x0_{i-1}) / (2 r),  r = (lambda_i - lambda_{i-1}) / h     (later steps)
        x_{i+1} = (s_{i+1} / s_i) x_i - alpha_{i+1} (exp(-h) - 1) D

    The last step is first order: to sigma = 0 it lands on x0_i (diffusers' ``final_sigmas_type="zero"``); to
    sigma_min only with ``euler_at_final``, or ``lower_order_final`` on a run of fewer than 15 steps, as diffusers'
    rule (otherwise the last step is second order). One model call per step.
    """
    den = _denoiser(model, sched, guidance, x_start)
    sig = _f32(grid.sigmas)
    labels = _labels(grid)
    x = x_start if start_noise is None else start_noise * _f32(grid.init_noise_sigma)
    # alpha_i, s_i and lambda_i of every sigma but a final 0, one scalar at a time as diffusers computes them
    coeffs = [_alpha_sigma(v) for v in (sig if sig[-1] > 0 else sig[:-1])]
    lams = [torch.log(a) - torch.log(s_) for a, s_ in coeffs]
    n = len(grid)
    last_first_order = euler_at_final or (lower_order_final and n < 15)  # diffusers' rule for solver order 2
    prev_x0 = None
    for i in range(n):
        if cancel is not None and cancel.cancelled:
            return
        (alpha_s, s_s), lam_s = coeffs[i], lams[i]
        time = grid.times[i].item()
        x0, eps = den.x0_eps(x, time, alpha_s, s_s)
        delta = den.delta
        if sig[i + 1] == 0:
            x_next = x0  # first order to sigma = 0: (0 / s_i) x_i + x0_i
        else:
            (alpha_t, s_t), lam_t = coeffs[i + 1], lams[i + 1]
            h = lam_t - lam_s
            phi = alpha_t * (torch.exp(-h) - 1.0)
            if prev_x0 is None or (i == n - 1 and last_first_order):
                x_next = (s_t / s_s) * x - phi * x0
            else:
                r0 = (lam_s - lams[i - 1]) / h
                d1 = (1.0 / r0) * (x0 - prev_x0)
                x_next = (s_t / s_s) * x - phi * x0 - 0.5 * phi * d1
        t, t_prev = labels[i], labels[i + 1]
        yield Step(i, n, t, t_prev, x, x0, eps, x_next, 1, float(time), grid.alpha_bar(i), delta)
        x, prev_x0 = x_next, x0


def sigma_grid(
    name: str | SamplerName,
    sched: Schedule,
    steps: int,
    spacing: str | Spacing,
    karras: bool = False,
    offset: int = 0,
    final: str = FinalSigma.ZERO,
) -> SigmaGrid:
    """The grid diffusers' scheduler for this sampler would visit (Euler and Heun share one); ``karras`` is its
    ``use_karras_sigmas`` on the ``spacing``'s timesteps, ``offset`` its ``steps_offset``, ``final`` its
    ``final_sigmas_type`` (Euler and DPM-Solver++: diffusers' Heun always ends at 0)."""
    kind = SamplerName.parse(name)
    if kind is SamplerName.HEUN and final != FinalSigma.ZERO:
        raise OptionError("Heun always ends at sigma = 0 (diffusers' Heun has no final_sigmas_type).")
    make = dpm_grid if kind is SamplerName.DPMPP_2M else euler_grid
    return make(sched, steps, spacing, karras, offset, final)


def sigma_sampler(
    name: str | SamplerName,
    model,
    sched: Schedule,
    x_start: torch.Tensor,
    grid: SigmaGrid,
    *,
    guidance: Guidance | None = None,
    churn: float = 0.0,
    generator: torch.Generator | None = None,
    cancel: CancelToken | None = None,
    start_noise: torch.Tensor | None = None,
    lower_order_final: bool = True,
    euler_at_final: bool = False,
) -> Iterator[Step]:
    """Dispatch to :func:`euler_sampler`, :func:`heun_sampler` or :func:`dpmpp_2m_sampler` by name."""
    kind = SamplerName.parse(name)
    if kind is SamplerName.HEUN:
        return heun_sampler(
            model,
            sched,
            x_start,
            grid,
            guidance=guidance,
            churn=churn,
            generator=generator,
            cancel=cancel,
            start_noise=start_noise,
        )
    if kind is SamplerName.DPMPP_2M:
        return dpmpp_2m_sampler(
            model,
            sched,
            x_start,
            grid,
            guidance=guidance,
            cancel=cancel,
            start_noise=start_noise,
            lower_order_final=lower_order_final,
            euler_at_final=euler_at_final,
        )
    return euler_sampler(model, sched, x_start, grid, guidance=guidance, cancel=cancel, start_noise=start_noise)
