"""How big the guidance is at one recorded step (no Qt): the terms are recomputed from the step's x_t.

A run records the guided ε̂ only. To show the size of the guidance at the step on screen, the model is asked again
at that step for ε_c = ε_θ(x_t, y) and ε_u = ε_θ(x_t, ∅) (one batched call), and the classifier for
∇log p_φ(y | x_t). Sizes are root-mean-square values per pixel:

- classifier-free (Ho & Salimans 2022): ε̂ = ε_u + s·(ε_c − ε_u); the term s·(ε_c − ε_u), and ε_c − ε_u itself;
- classifier guidance (Dhariwal & Nichol 2021): Algorithm 2 (DDIM and the other ε̂-based samplers) subtracts
  s·√(1−ᾱ_t)·∇log p from ε̂, Algorithm 1 (DDPM) moves the mean by s·σ_t²·∇log p.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from diffusion_studio.core.guidance import classifier_log_prob_grad
from diffusion_studio.core.steps import ddpm_sigma
from diffusion_studio.session.request import PreparedRun

SLOW_S = 0.25  # a probe slower than this (a big model on a CPU) is not repeated for every step shown


@dataclass(frozen=True)
class GuidanceSize:
    """RMS per pixel of ε_c − ε_u, of the classifier-free term s·(ε_c − ε_u), of the guided ε̂, and of the
    classifier term (None without a classifier)."""

    difference: float
    cfg_term: float
    eps: float
    classifier_term: float | None = None


def _rms(x: torch.Tensor) -> float:
    return float(x.double().pow(2).mean().sqrt())


def guidance_size(prepared: PreparedRun, x_t: torch.Tensor, t: int, t_prev: int) -> GuidanceSize | None:
    """The guidance at step t of ``prepared``'s run from its recorded x_t (B, C, H, W); None when unguided."""
    g, model, sched = prepared.plan.guidance, prepared.model, prepared.schedule
    if g.label is None:
        return None
    x = x_t.to(prepared.device, torch.float32)
    batch = x.shape[0]
    t_batch = torch.full((batch,), t, dtype=torch.long, device=x.device)
    y = torch.full((batch,), int(g.label), dtype=torch.long, device=x.device)
    null = torch.full_like(y, g.null_class)
    with torch.no_grad():
        both = model.predict_eps(torch.cat([x, x]), torch.cat([t_batch, t_batch]), sched, torch.cat([y, null]))
    eps_c, eps_u = both.chunk(2)
    scale = g.cfg_scale_at(t) if hasattr(g, "cfg_scale_at") else g.cfg_scale
    eps = eps_u + scale * (eps_c - eps_u)
    classifier_term = None
    if g.classifier is not None and g.classifier_scale:
        grad = classifier_log_prob_grad(g.classifier, x, t_batch, y)
        if prepared.plan.sampler != "ddpm":  # DDIM and the sigma-grid samplers change ε̂
            coefficient = g.classifier_scale * (1.0 - float(sched.alpha_bars[t])) ** 0.5  # Algorithm 2
            eps = eps - coefficient * grad
        else:
            coefficient = g.classifier_scale * ddpm_sigma(sched, t, prepared.plan.variance, t_prev) ** 2  # Alg. 1
        classifier_term = _rms(coefficient * grad)
    return GuidanceSize(_rms(eps_c - eps_u), _rms(scale * (eps_c - eps_u)), _rms(eps), classifier_term)


class GuidanceProbe:
    """Guidance sizes of one run's steps, computed on request and kept; gives up (``slow``) when one probe takes
    longer than :data:`SLOW_S`, so scrubbing a big model's run never waits on the model."""

    def __init__(self, prepared: PreparedRun) -> None:
        self.prepared = prepared
        self.slow = False
        self._sizes: dict[int, GuidanceSize | None] = {}

    def at(self, t: int, t_prev: int, x_t: torch.Tensor | None) -> GuidanceSize | None:
        if t in self._sizes:
            return self._sizes[t]
        if self.slow or x_t is None or t < 0:
            return None
        start = time.perf_counter()
        size = guidance_size(self.prepared, x_t, t, t_prev)
        self.slow = time.perf_counter() - start > SLOW_S
        self._sizes[t] = size
        return size
