"""Sampler generators: one ``yield`` per reverse step, as guided-diffusion's ``p_sample_loop_progressive``.

The same generator drives the CLI (a loop with a progress bar), the desktop app (a worker thread) and a notebook.
Every random number comes from the caller's ``torch.Generator`` (drawn on the CPU), so a seed fixes every frame.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch

from diffusion_studio.core.cancel import CancelToken
from diffusion_studio.core.guidance import (
    NoisyClassifier,
    classifier_log_prob_grad,
    ddim_classifier_eps,
    ddpm_classifier_shift,
    guided_eps_parts,
)
from diffusion_studio.core.parameterization import Prediction
from diffusion_studio.core.schedules import Schedule
from diffusion_studio.core.steps import (
    SamplerName,
    Variance,
    ddim_step,
    ddpm_sigma,
    ddpm_step,
    previous_timesteps,
)
from diffusion_studio.core.velocity import v_hat
from diffusion_studio.errors import ModelError, OptionError


@dataclass(frozen=True)
class Step:
    """What one reverse step produced. ``x_t`` went in at timestep ``t``; ``x_prev`` came out (at ``t_prev``).

    Every tensor is in the model's own (VP) scale, x_t = sqrt(abar) x0 + sqrt(1 - abar) eps, whatever the sampler.
    ``t`` is a whole timestep (for labels and the timeline); ``time`` is the exact model time when a sampler
    works between trained timesteps (Euler, Heun, DPM-Solver++ on Karras sigmas), and ``alpha_bar`` the exact
    noise level of x_t. ``calls`` counts the model evaluations the step cost (Heun: 2, except the last).
    """

    index: int  # 0-based position in the run
    total: int  # number of steps in the run
    t: int
    t_prev: int  # -1 after the last step: x_prev is then the final image
    x_t: torch.Tensor
    x0_pred: torch.Tensor
    eps_pred: torch.Tensor
    x_prev: torch.Tensor
    calls: int = 1
    time: float | None = None  # None: the model time is t
    alpha_bar: float | None = None  # None: read the schedule at t
    cfg_delta: torch.Tensor | None = None  # eps_cond - eps_uncond when classifier-free guidance was applied

    def abar(self, sched: Schedule) -> float:
        """The noise level of ``x_t``: ``alpha_bar`` when the sampler set it, else abar_t of the schedule."""
        return float(sched.alpha_bars[self.t]) if self.alpha_bar is None else float(self.alpha_bar)

    def v_pred(self, sched: Schedule) -> torch.Tensor:
        """v-hat = sqrt(abar) eps-hat - sqrt(1 - abar) x0-hat (Salimans & Ho 2022, sec. 4)."""
        return v_hat(self.x0_pred, self.eps_pred, self.abar(sched))  # the right pane's v-hat, the same function


@dataclass(frozen=True)
class Guidance:
    """Label and guidance for a class-conditional model. ``cfg_scale`` 1 is plain conditional sampling."""

    label: int | None = None
    null_class: int = 0
    cfg_scale: float = 1.0
    classifier: NoisyClassifier | None = field(default=None, compare=False)
    classifier_scale: float = 0.0
    interval: tuple[float, float] | None = None  # guide only for lo <= t <= hi (Kynkaanniemi et al. 2024)

    def cfg_scale_at(self, t: float) -> float:
        """The classifier-free scale at model time t: ``cfg_scale`` inside the interval, 1 (conditional) outside.

        Kynkaanniemi et al. 2024, "Applying guidance in a limited interval improves sample and distribution
        quality": guidance at high noise costs diversity and at low noise does nothing, so it is applied only in a
        middle range of noise levels.
        """
        if self.interval is None or self.interval[0] <= t <= self.interval[1]:
            return self.cfg_scale
        return 1.0


def _noise(like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.randn(like.shape, generator=generator, dtype=like.dtype).to(like.device)


def _check_finite(eps: torch.Tensor, t: int) -> None:
    # one reduction: a NaN or an infinity anywhere makes the sum non-finite
    if not math.isfinite(float(eps.sum())):
        raise ModelError(f"The model produced NaN or infinite values at t = {t}; the run was stopped.")


def raw_prediction(model, classifier: bool) -> str | None:
    """ "sample" or "v_prediction" when the model's raw output (``forward``) is read directly, as diffusers reads
    it (x0-hat from it with no round trip through eps, which at abar ~ 1e-9 keeps three digits); None: through
    ``predict_eps`` (eps models, classifier guidance, or a wrapper that has only ``predict_eps``)."""
    kind = getattr(getattr(model, "info", None), "prediction", Prediction.EPSILON.value)
    if kind == Prediction.EPSILON.value or classifier or not hasattr(type(model), "forward"):
        return None
    return kind


def raw_to_eps(
    out: torch.Tensor, delta: torch.Tensor | None, x: torch.Tensor, abar: float, kind: str | None
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """(eps-hat, x0-hat or None, guidance difference in eps terms) from a model output of ``kind`` (None: eps):
    x0 = out, eps = (x - sqrt(abar) x0) / sqrt(1 - abar) for "sample"; x0 = sqrt(abar) x - sqrt(1 - abar) v,
    eps = sqrt(abar) v + sqrt(1 - abar) x for "v_prediction" (the formulas of diffusers' DDPM/DDIM steps)."""
    if kind is None:
        return out, None, delta
    a, s = math.sqrt(abar), math.sqrt(1.0 - abar)
    if kind == Prediction.SAMPLE.value:
        return (x - a * out) / s, out, None if delta is None else delta * (-a / s)
    return a * out + s * x, a * x - s * out, None if delta is None else delta * a


def reverse_process(
    model,
    sched: Schedule,
    x_start: torch.Tensor,
    timesteps: list[int],
    *,
    method: str | SamplerName = SamplerName.DDPM,
    eta: float = 0.0,
    variance: str | Variance = Variance.BETA_TILDE,
    clip_x0: bool = False,
    guidance: Guidance | None = None,
    generator: torch.Generator | None = None,
    cancel: CancelToken | None = None,
    clip_range: float = 1.0,
    final_abar: float = 1.0,
) -> Iterator[Step]:
    """Run DDPM (Ho et al. Algorithm 2) or DDIM (Song et al. eq. 12) over descending ``timesteps``.

    ``model`` has ``predict_eps(x_t, t, schedule, y)``; ``clip_x0`` clips x0-hat to [-clip_range, clip_range];
    DDIM's last step lands on abar = ``final_abar`` (1; abar_0 is diffusers' ``set_alpha_to_one=False``).
    Stops before the next model call once ``cancel`` is set.
    An unknown ``method`` raises :class:`OptionError`; the sigma-grid samplers run in :mod:`.karras`.
    """
    kind = SamplerName.parse(method)
    if kind.on_sigmas:
        raise OptionError(f"'{kind.value}' runs on a sigma grid: use diffusion_studio.core.karras or run_plan.")
    guidance = guidance or Guidance()
    batch = x_start.shape[0]
    y = None
    if guidance.label is not None:
        y = torch.full((batch,), int(guidance.label), dtype=torch.long, device=x_start.device)
    use_classifier = guidance.classifier is not None and guidance.classifier_scale != 0 and y is not None
    kind_raw = raw_prediction(model, use_classifier)
    forward = torch.no_grad()(model.forward) if kind_raw else None
    x = x_start
    t_prevs = previous_timesteps(timesteps)
    for i, (t, t_prev) in enumerate(zip(timesteps, t_prevs, strict=True)):
        if cancel is not None and cancel.cancelled:
            return
        t_batch = torch.full((batch,), t, dtype=torch.long, device=x.device)
        abar_t = float(sched.alpha_bars[t])
        raw = guided_eps_parts(
            model, x, t_batch, sched, y, guidance.null_class, guidance.cfg_scale_at(t), forward if kind_raw else None
        )
        eps, x0_raw, delta = raw_to_eps(*raw, x, abar_t, kind_raw)
        _check_finite(eps, t)
        grad = classifier_log_prob_grad(guidance.classifier, x, t_batch, y) if use_classifier else None
        if kind is SamplerName.DDIM:
            if grad is not None:  # Dhariwal & Nichol, Algorithm 2
                eps = ddim_classifier_eps(eps, abar_t, grad, guidance.classifier_scale)
            noise = _noise(x, generator) if eta > 0 else None
            x_prev, x0 = ddim_step(sched, x, t, t_prev, eps, eta, noise, clip_x0, clip_range, final_abar, x0_raw)
        else:
            sigma = ddpm_sigma(sched, t, variance, t_prev)
            shift = None
            if grad is not None:  # Dhariwal & Nichol, Algorithm 1
                shift = ddpm_classifier_shift(grad, sigma, guidance.classifier_scale)
            noise = _noise(x, generator) if sigma > 0 else None
            x_prev, x0 = ddpm_step(
                sched, x, t, eps, noise, variance, clip_x0, t_prev, shift, clip_range, x0_raw
            )
        yield Step(i, len(timesteps), t, t_prev, x, x0, eps, x_prev, alpha_bar=abar_t, cfg_delta=delta)
        x = x_prev


def ddpm_sampler(model, sched: Schedule, x_T: torch.Tensor, **kwargs) -> Iterator[Step]:  # noqa: N803
    """Ancestral DDPM sampling over every t = T-1..0 (Ho et al. 2020, Algorithm 2)."""
    return reverse_process(model, sched, x_T, list(range(sched.T - 1, -1, -1)), method="ddpm", **kwargs)


def ddim_sampler(model, sched: Schedule, x_T: torch.Tensor, timesteps: list[int], **kwargs) -> Iterator[Step]:  # noqa: N803
    """DDIM sampling over a respaced, descending timestep sequence (Song et al. 2021)."""
    return reverse_process(model, sched, x_T, timesteps, method="ddim", **kwargs)


def drain(steps: Iterator[Step]) -> torch.Tensor | None:
    """Run a sampler to the end and return the final image (None if it was cancelled before any step)."""
    last = None
    for step in steps:
        last = step
    return None if last is None else last.x_prev
