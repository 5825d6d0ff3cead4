"""v-hat, the flow velocity, and DDIM as Euler on the rescaled probability-flow ODE (core/velocity.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from diffusion_studio.core.parameterization import eps_from_x0, x0_from_v
from diffusion_studio.core.plan import SamplingPlan, run_plan
from diffusion_studio.core.samplers import reverse_process
from diffusion_studio.core.schedules import make_schedule
from diffusion_studio.core.steps import ddim_timesteps
from diffusion_studio.core.velocity import (
    ddim_as_euler,
    flow_time,
    flow_velocity,
    rescaled_sigma,
    v_hat,
)


class LinearModel:
    """A fake eps-predictor with a non-trivial answer: eps = 0.3 x_t + 0.2 sin(x_t) + t / T."""

    def predict_eps(self, x_t, t, schedule, y=None):
        return 0.3 * x_t + 0.2 * torch.sin(x_t) + (t.float() / schedule.T).view(-1, 1, 1, 1)


def test_v_hat_and_flow_velocity_match_numpy_references():
    rng = np.random.default_rng(0)
    x0, eps = rng.uniform(-1, 1, (2, 3, 4, 5)), rng.standard_normal((2, 3, 4, 5))
    for abar in (0.999, 0.5, 0.01):
        want_v = np.sqrt(abar) * eps - np.sqrt(1 - abar) * x0
        assert np.allclose(v_hat(x0, eps, abar), want_v)  # numpy in, numpy out
        got = v_hat(torch.from_numpy(x0), torch.from_numpy(eps), abar)
        assert np.allclose(got.numpy(), want_v)
        # v and x_t give x0 back (Salimans & Ho 2022: x0 = sqrt(abar) x_t - sqrt(1 - abar) v)
        x_t = torch.from_numpy(np.sqrt(abar) * x0 + np.sqrt(1 - abar) * eps)
        assert torch.allclose(x0_from_v(x_t, got, torch.tensor(abar, dtype=torch.float64)), torch.from_numpy(x0))
    assert np.allclose(flow_velocity(x0, eps), eps - x0)


def test_flow_time_is_sigma_over_one_plus_sigma_and_spans_clean_to_noise():
    for abar in (0.9999, 0.7, 0.2, 1e-4):
        sigma = rescaled_sigma(abar)
        assert sigma == pytest.approx(math.sqrt((1 - abar) / abar))
        assert flow_time(abar) == pytest.approx(sigma / (1 + sigma))
        # y = x_t / (a + b) = (1 - s) x0 + s eps
        a, b, s = math.sqrt(abar), math.sqrt(1 - abar), flow_time(abar)
        assert a / (a + b) == pytest.approx(1 - s)
    assert flow_time(1.0) == 0.0 and rescaled_sigma(1.0) == 0.0
    assert flow_time(1e-12) == pytest.approx(1.0, abs=1e-5)


def _ddim_steps(clip: bool = False, eta: float = 0.0):
    sched = make_schedule("linear", 1000)
    x = torch.randn((2, 3, 8, 8), generator=torch.Generator().manual_seed(0))
    ts = ddim_timesteps(sched, 12, "trailing")
    gen = torch.Generator().manual_seed(1)
    steps = list(reverse_process(LinearModel(), sched, x, ts, method="ddim", eta=eta, clip_x0=clip, generator=gen))
    return sched, steps


def _abar_prev(sched, step) -> float:
    return 1.0 if step.t_prev < 0 else float(sched.alpha_bars[step.t_prev])


def test_ddim_eta0_is_euler_on_the_rescaled_ode():
    """x-bar_prev = x-bar_t + (sigma_prev - sigma_t) eps-hat, x-bar = x / sqrt(abar): the DDIM step, every step."""
    sched, steps = _ddim_steps()
    assert len(steps) == 12
    for step in steps:
        euler = ddim_as_euler(step.x_t, step.eps_pred, step.abar(sched), _abar_prev(sched, step))
        assert torch.allclose(euler, step.x_prev, rtol=1e-5, atol=1e-5), step.t


def test_ddim_eta0_is_also_euler_in_flow_coordinates():
    """y = x / (a + b) moves by (s_prev - s_t) (eps-hat - x0-hat): the flow velocity is the step's direction."""
    sched, steps = _ddim_steps()
    for step in steps:
        abar, abar_prev = step.abar(sched), _abar_prev(sched, step)
        scale = math.sqrt(abar) + math.sqrt(1 - abar)
        scale_prev = math.sqrt(abar_prev) + math.sqrt(1 - abar_prev)
        y, y_prev = step.x_t / scale, step.x_prev / scale_prev
        moved = (flow_time(abar_prev) - flow_time(abar)) * flow_velocity(step.x0_pred, step.eps_pred)
        assert torch.allclose(y + moved, y_prev, rtol=1e-5, atol=1e-5), step.t


def test_the_euler_identity_fails_where_it_should():
    """The check can fail: DDIM with eta > 0 adds noise, so its step is not the Euler step."""
    sched, steps = _ddim_steps(eta=1.0)
    errors = [float((ddim_as_euler(s.x_t, s.eps_pred, s.abar(sched), _abar_prev(sched, s)) - s.x_prev).abs().max())
              for s in steps[:-1]]
    assert min(errors) > 1e-2


def test_with_x0_clipping_ddim_follows_the_eps_implied_by_the_clipped_x0():
    sched, steps = _ddim_steps(clip=True)
    unclipped = [(s.x_t - math.sqrt(1 - s.abar(sched)) * s.eps_pred) / math.sqrt(s.abar(sched)) for s in steps]
    assert any(float(x0.abs().max()) > 1 for x0 in unclipped)  # clipping does bite at some steps
    for step in steps:
        eps = eps_from_x0(step.x_t, step.x0_pred, torch.tensor(step.abar(sched)))  # the eps the clipped x0 implies
        euler = ddim_as_euler(step.x_t, eps, step.abar(sched), _abar_prev(sched, step))
        assert torch.allclose(euler, step.x_prev, rtol=1e-4, atol=1e-4), step.t


def test_karras_euler_steps_are_the_same_euler_step_with_their_own_noise_levels():
    """Euler on the Karras grid (Algorithm 1 of Karras et al. 2022) takes this very step between its own sigmas."""
    sched = make_schedule("linear", 1000)
    plan = SamplingPlan(sampler="euler", steps=8, spacing="karras", seed=3, clip_x0=False)
    steps = list(run_plan(LinearModel(), sched, plan.checked(sched), (3, 8, 8)))
    for step, after in zip(steps, [*steps[1:], None], strict=True):
        abar_prev = 1.0 if after is None else after.abar(sched)
        euler = ddim_as_euler(step.x_t, step.eps_pred, step.abar(sched), abar_prev)
        assert torch.allclose(euler, step.x_prev, rtol=1e-4, atol=1e-4), step.index
