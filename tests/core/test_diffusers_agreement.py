"""Our pure step functions equal diffusers' schedulers given the same model output, sample and noise (1e-5)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from diffusion_studio.core import ddim_step, ddim_timesteps, ddpm_step, make_schedule

diffusers = pytest.importorskip("diffusers")

DIFFUSERS_NAMES = {
    "linear": "linear",
    "scaled_linear": "scaled_linear",
    "sigmoid": "sigmoid",
    "cosine": "squaredcos_cap_v2",
}
T = 1000


def _in_float64(scheduler):
    """Recompute the scheduler's alpha-bars in float64 from its own betas.

    diffusers keeps them in float32, where 1 - abar_t / abar_{t-1} near t = 0 loses three digits to
    cancellation (2.7e-4 off at t = 1); the comparison is about the step formulas, so both sides use the same
    float64 numbers. The schedules themselves are compared in :func:`test_schedules_match_diffusers`.
    """
    scheduler.betas = scheduler.betas.double()
    scheduler.alphas = 1.0 - scheduler.betas
    scheduler.alphas_cumprod = torch.cumprod(scheduler.alphas, dim=0)
    if hasattr(scheduler, "final_alpha_cumprod"):
        scheduler.final_alpha_cumprod = scheduler.final_alpha_cumprod.double()
    return scheduler


def _inputs(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(2, 3, 8, 8, generator=g), torch.randn(2, 3, 8, 8, generator=g)


@pytest.mark.parametrize("kind", list(DIFFUSERS_NAMES))
def test_schedules_match_diffusers(kind: str) -> None:
    ref = diffusers.DDPMScheduler(num_train_timesteps=T, beta_schedule=DIFFUSERS_NAMES[kind])
    ours = make_schedule(kind, T)
    np.testing.assert_allclose(ours.betas, ref.betas.double().numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(ours.alpha_bars, ref.alphas_cumprod.double().numpy(), rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("kind", list(DIFFUSERS_NAMES))
@pytest.mark.parametrize("variance", ["fixed_small", "fixed_large"])
@pytest.mark.parametrize("clip", [False, True])
def test_ddpm_step_matches_diffusers(kind: str, variance: str, clip: bool) -> None:
    ref = _in_float64(
        diffusers.DDPMScheduler(
            num_train_timesteps=T,
            beta_schedule=DIFFUSERS_NAMES[kind],
            variance_type=variance,
            clip_sample=clip,
        )
    )
    sched = make_schedule(betas=ref.betas.numpy())
    ours_variance = "beta_tilde" if variance == "fixed_small" else "beta"
    for t in (999, 700, 250, 3, 1, 0):
        x_t, eps = _inputs(t)
        x_t = x_t * 1.5  # values beyond [-1, 1] so clipping matters
        expected = ref.step(eps, t, x_t, generator=torch.Generator().manual_seed(100 + t))
        noise = torch.randn(x_t.shape, generator=torch.Generator().manual_seed(100 + t))
        x_prev, x0 = ddpm_step(sched, x_t, t, eps, noise, variance=ours_variance, clip_x0=clip)
        torch.testing.assert_close(x_prev, expected.prev_sample.float(), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(x0, expected.pred_original_sample.float(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("spacing", ["leading", "trailing", "linspace"])
@pytest.mark.parametrize("eta", [0.0, 1.0])
@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_ddim_step_matches_diffusers(spacing: str, eta: float, kind: str) -> None:
    steps = 50
    ref = _in_float64(
        diffusers.DDIMScheduler(
            num_train_timesteps=T,
            beta_schedule=DIFFUSERS_NAMES[kind],
            timestep_spacing=spacing,
            clip_sample=False,
        )
    )
    ref.set_timesteps(steps)
    sched = make_schedule(betas=ref.betas.numpy())
    ours = ddim_timesteps(sched, steps, spacing)
    assert ours == [int(v) for v in ref.timesteps]
    for t in ours[::7]:
        x_t, eps = _inputs(t)
        noise = torch.randn(x_t.shape, generator=torch.Generator().manual_seed(7 + t))
        expected = ref.step(eps, t, x_t, eta=eta, variance_noise=noise)
        t_prev = t - T // steps  # diffusers' own rule for the previous timestep
        x_prev, x0 = ddim_step(sched, x_t, t, t_prev, eps, eta=eta, noise=noise)
        torch.testing.assert_close(x_prev, expected.prev_sample.float(), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(x0, expected.pred_original_sample.float(), rtol=1e-5, atol=1e-5)


def test_ddim_clipping_matches_diffusers() -> None:
    ref = _in_float64(diffusers.DDIMScheduler(num_train_timesteps=T, clip_sample=True))
    ref.set_timesteps(20)
    sched = make_schedule(betas=ref.betas.numpy())
    x_t, eps = _inputs(1)
    expected = ref.step(eps, 500, x_t * 2, eta=0.0, use_clipped_model_output=True)
    x_prev, _ = ddim_step(sched, x_t * 2, 500, 450, eps, clip_x0=True)
    torch.testing.assert_close(x_prev, expected.prev_sample.float(), rtol=1e-5, atol=1e-5)
