"""Guidance: classifier-free (Ho & Salimans 2022) and classifier guidance (Dhariwal & Nichol 2021).

classifier-free:      eps = eps_theta(x_t, null) + s (eps_theta(x_t, y) - eps_theta(x_t, null))
Algorithm 1 (DDPM):   x_{t-1} ~ N(mu + s Sigma grad_x log p_phi(y | x_t), Sigma)
Algorithm 2 (DDIM):   eps_hat = eps_theta(x_t) - sqrt(1 - abar_t) s grad_x log p_phi(y | x_t)
"""

from __future__ import annotations

from typing import Protocol

import torch

from diffusion_studio.core.schedules import Schedule


class NoisyClassifier(Protocol):
    """p_phi(y | x_t, t): any differentiable classifier of noisy images."""

    def logits(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor: ...


class EpsModel(Protocol):
    """The part of :class:`diffusion_studio.models.base.NoisePredictor` that guidance needs."""

    def predict_eps(
        self, x_t: torch.Tensor, t: torch.Tensor, schedule: Schedule, y: torch.Tensor | None = None
    ) -> torch.Tensor: ...


def cfg_combine(eps_uncond: torch.Tensor, eps_cond: torch.Tensor, scale: float) -> torch.Tensor:
    """eps = eps_uncond + s (eps_cond - eps_uncond); s = 1 is plain conditional, s = 0 unconditional."""
    return eps_uncond + scale * (eps_cond - eps_uncond)


def guided_eps(
    model: EpsModel,
    x_t: torch.Tensor,
    t: torch.Tensor,
    schedule: Schedule,
    y: torch.Tensor | None,
    null_class: int,
    cfg_scale: float = 1.0,
) -> torch.Tensor:
    """The model's eps with classifier-free guidance at scale ``cfg_scale`` (one batched model call)."""
    return guided_eps_parts(model, x_t, t, schedule, y, null_class, cfg_scale)[0]


def guided_eps_parts(
    model: EpsModel,
    x_t: torch.Tensor,
    t: torch.Tensor,
    schedule: Schedule,
    y: torch.Tensor | None,
    null_class: int,
    cfg_scale: float = 1.0,
    predict=None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(guided eps, eps_cond - eps_uncond): the difference is None when only one of the two was computed.

    ``predict`` replaces ``model.predict_eps`` (e.g. the raw x0 or v output: the combination is affine in it).
    """
    predict = predict or model.predict_eps
    if y is None or cfg_scale == 1.0:
        return predict(x_t, t, schedule, y), None
    null = torch.full_like(y, null_class)
    if cfg_scale == 0.0:
        return predict(x_t, t, schedule, null), None
    both = predict(torch.cat([x_t, x_t]), torch.cat([t, t]), schedule, torch.cat([y, null]))
    eps_cond, eps_uncond = both.chunk(2)
    return cfg_combine(eps_uncond, eps_cond, cfg_scale), eps_cond - eps_uncond


def classifier_log_prob_grad(
    classifier: NoisyClassifier, x_t: torch.Tensor, t: torch.Tensor, y: torch.Tensor
) -> torch.Tensor:
    """grad_x log p_phi(y | x_t), summed over the batch so each image gets its own gradient."""
    with torch.enable_grad():
        x = x_t.detach().requires_grad_(True)
        log_probs = torch.log_softmax(classifier.logits(x, t).float(), dim=-1)
        selected = log_probs[torch.arange(len(y), device=y.device), y].sum()
        (grad,) = torch.autograd.grad(selected, x)
    return grad.to(x_t.dtype)


def ddpm_classifier_shift(grad: torch.Tensor, sigma: float, scale: float) -> torch.Tensor:
    """Algorithm 1: the mean moves by s Sigma grad log p(y | x_t), with Sigma = sigma_t^2 I."""
    return scale * (sigma**2) * grad


def ddim_classifier_eps(eps: torch.Tensor, abar_t: float, grad: torch.Tensor, scale: float) -> torch.Tensor:
    """Algorithm 2: eps_hat = eps - sqrt(1 - abar_t) s grad log p(y | x_t)."""
    return eps - (1.0 - abar_t) ** 0.5 * scale * grad
