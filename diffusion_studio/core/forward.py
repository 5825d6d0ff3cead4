"""The forward (noising) process q of Ho et al. 2020.

q(x_t | x_{t-1}) = N(sqrt(1 - beta_t) x_{t-1}, beta_t I)                          (eq. 2)
q(x_t | x_0)     = N(sqrt(abar_t) x_0, (1 - abar_t) I)                            (eq. 4)
  => x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps,  eps ~ N(0, I)   (reparameterisation)
q(x_{t-1} | x_t, x_0) = N(mu~_t, beta~_t I),
  mu~_t = sqrt(abar_{t-1}) beta_t / (1 - abar_t) x_0 + sqrt(alpha_t) (1 - abar_{t-1}) / (1 - abar_t) x_t   (eq. 7)
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from diffusion_studio.core._coeffs import alpha_bar_at, at
from diffusion_studio.core.schedules import Schedule


def q_sample(sched: Schedule, x0: torch.Tensor, t: int | torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps, with the caller's eps (reuse it to scrub t smoothly)."""
    if isinstance(t, torch.Tensor) and t.ndim > 0:
        abar = alpha_bar_at(sched.alpha_bars, t, x0)
        return abar.sqrt() * x0 + (1.0 - abar).sqrt() * eps
    # one timestep: two fused passes over the image with plain-float coefficients
    t = int(t)
    return torch.add(
        x0 * float(sched.sqrt_alpha_bars[t]), eps, alpha=float(sched.sqrt_one_minus_alpha_bars[t])
    )


def q_step(sched: Schedule, x_prev: torch.Tensor, t: int, noise: torch.Tensor) -> torch.Tensor:
    """One Markov transition x_t ~ q(x_t | x_{t-1}) = N(sqrt(1 - beta_t) x_{t-1}, beta_t I)."""
    beta = at(sched.betas, t, x_prev)
    return (1.0 - beta).sqrt() * x_prev + beta.sqrt() * noise


def q_chain(
    sched: Schedule, x0: torch.Tensor, generator: torch.Generator | None = None, t_end: int | None = None
) -> Iterator[tuple[int, torch.Tensor]]:
    """Run the chained one-step process from x0, yielding (t, x_t) for t = 0..t_end (default T-1).

    In distribution, x_t from this chain equals :func:`q_sample` at the same t.
    """
    last = sched.T - 1 if t_end is None else t_end
    x = x0
    for t in range(last + 1):
        noise = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        x = q_step(sched, x, t, noise)
        yield t, x


def q_posterior_mean(
    sched: Schedule,
    x0: torch.Tensor,
    x_t: torch.Tensor,
    t: int | torch.Tensor,
    t_prev: int | torch.Tensor | None = None,
) -> torch.Tensor:
    """mu~_t(x_t, x_0), the mean of q(x_{t-1} | x_t, x_0) (eq. 7); t_prev < t - 1 gives the respaced posterior."""
    t_prev = (t - 1) if t_prev is None else t_prev
    abar_t = alpha_bar_at(sched.alpha_bars, t, x_t)
    abar_prev = alpha_bar_at(sched.alpha_bars, t_prev, x_t)
    beta_t = 1.0 - abar_t / abar_prev  # equals beta_t when t_prev = t - 1
    coef_x0 = abar_prev.sqrt() * beta_t / (1.0 - abar_t)
    coef_xt = (1.0 - beta_t).sqrt() * (1.0 - abar_prev) / (1.0 - abar_t)
    return coef_x0 * x0 + coef_xt * x_t
