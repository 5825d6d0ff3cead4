"""Whole Euler, Heun and DPM-Solver++(2M) runs equal diffusers' schedulers, step by step, to 1e-4 relative.

Same model (a deterministic fake eps-model, and the closed-form ``ideal``), same start: diffusers' pipeline draws
latents = z * init_noise_sigma and feeds the model scale_model_input(latents) = latents / sqrt(1 + sigma^2), which
is our VP x_t. diffusers' default (float32) schedulers are used as they are, with our schedule made by name.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from diffusion_studio.core import make_schedule
from diffusion_studio.core._coeffs import alpha_bar_at
from diffusion_studio.core.karras import dpmpp_2m_sampler, euler_sampler, heun_sampler, sigma_grid
from diffusion_studio.core.sigmas import dpm_grid, euler_grid

diffusers = pytest.importorskip("diffusers")

DIFFUSERS_NAMES = {"linear": "linear", "scaled_linear": "scaled_linear", "cosine": "squaredcos_cap_v2"}
SAMPLERS = {
    "euler": (euler_sampler, "EulerDiscreteScheduler"),
    "heun": (heun_sampler, "HeunDiscreteScheduler"),
    "dpmpp_2m": (dpmpp_2m_sampler, "DPMSolverMultistepScheduler"),
}
T = 1000


class FakeEps:
    """A smooth, deterministic eps-model that uses t continuously: the exact eps for x0 ~ N(0, 0.25 I), plus a
    cross-pixel nonlinearity that fades with the noise (so x0-hat stays bounded at sigma_max)."""

    def predict_eps(self, x, t, schedule, y=None):
        t = torch.as_tensor(t).reshape(-1)
        tt = t.to(torch.float32).reshape(-1, 1, 1, 1)
        a = alpha_bar_at(schedule.alpha_bars, t.expand(x.shape[0]), x)
        gaussian = (1 - a).sqrt() * x / (0.25 * a + 1 - a)
        return gaussian + 0.3 * a.sqrt() * torch.tanh(x.roll(1, -1)) * torch.sin(tt / 90)


def _scheduler(name: str, kind: str, steps: int, spacing: str, karras: bool):
    cls = getattr(diffusers, SAMPLERS[name][1])
    kwargs = dict(
        num_train_timesteps=T,
        beta_schedule=DIFFUSERS_NAMES[kind],
        beta_start=1e-4,
        beta_end=0.02,
        use_karras_sigmas=karras,
        timestep_spacing=spacing,
    )
    if name == "dpmpp_2m":
        kwargs.update(algorithm_type="dpmsolver++", solver_order=2)
    ref = cls(**kwargs)
    ref.set_timesteps(steps)
    return ref


def _diffusers_run(ref, model, sched, z):
    """diffusers' pipeline loop; returns the model inputs, the x0 predictions and the final sample."""
    latents = z * ref.init_noise_sigma
    ref.set_begin_index(0)  # DPM on Karras cosine repeats its first timestep, which shifts diffusers' index lookup
    inputs = []
    for t in ref.timesteps:
        x_in = ref.scale_model_input(latents, t)
        inputs.append(x_in)
        latents = ref.step(model.predict_eps(x_in, t, sched), t, latents).prev_sample
    return inputs, latents


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


def _our_run(name: str, model, sched, z, steps: int, spacing: str, karras: bool):
    grid = dpm_grid(sched, steps, spacing, karras) if name == "dpmpp_2m" else euler_grid(sched, steps, spacing, karras)
    return grid, list(SAMPLERS[name][0](model, sched, z * grid.start_scale, grid))


@pytest.mark.parametrize("name", list(SAMPLERS))
@pytest.mark.parametrize("spacing", ["linspace", "leading", "trailing"])
@pytest.mark.parametrize("karras", [False, True])
@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_whole_runs_match_diffusers(name: str, spacing: str, karras: bool, kind: str) -> None:
    steps = 10
    sched = make_schedule(kind, T)
    ref = _scheduler(name, kind, steps, spacing, karras)
    z = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(3))
    model = FakeEps()
    inputs, final = _diffusers_run(ref, model, sched, z)
    grid, ours = _our_run(name, model, sched, z, steps, spacing, karras)
    assert len(ours) == steps
    ref_sigmas = torch.unique_consecutive(ref.sigmas).numpy()  # Heun repeats each inner sigma
    np.testing.assert_allclose(grid.sigmas, ref_sigmas, rtol=1e-6)
    # every model input (our VP x_t, Heun's second evaluations included) and the final image agree
    stride = 2 if name == "heun" else 1
    for i, step in enumerate(ours):
        assert _rel(step.x_t, inputs[stride * i]) < 1e-4, f"x_t differs at step {i}"
    assert _rel(ours[-1].x_prev, final) < 1e-4
    assert sum(s.calls for s in ours) == len(ref.timesteps)


@pytest.mark.parametrize("name", list(SAMPLERS))
@pytest.mark.parametrize("steps", [1, 2, 7, 50])
def test_step_counts_and_scaled_linear(name: str, steps: int) -> None:
    sched = make_schedule("scaled_linear", T, 1e-4, 0.02)
    ref = _scheduler(name, "scaled_linear", steps, "linspace", steps % 2 == 0)
    z = torch.randn(1, 1, 6, 6, generator=torch.Generator().manual_seed(steps))
    _, final = _diffusers_run(ref, FakeEps(), sched, z)
    _, ours = _our_run(name, FakeEps(), sched, z, steps, "linspace", steps % 2 == 0)
    assert _rel(ours[-1].x_prev, final) < 1e-4


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_closed_form_ideal_model_matches_diffusers(name: str, ideal_one) -> None:
    """The closed-form model reads abar at a fractional t by interpolating log sigma, as the grid was built."""
    sched = make_schedule("linear", T)
    ref = _scheduler(name, "linear", 12, "linspace", True)
    z = torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    _, final = _diffusers_run(ref, ideal_one, sched, z)
    _, ours = _our_run(name, ideal_one, sched, z, 12, "linspace", True)
    assert _rel(ours[-1].x_prev, final) < 1e-4


def test_euler_x0_predictions_match_diffusers() -> None:
    sched = make_schedule("linear", T)
    ref = _scheduler("euler", "linear", 8, "trailing", False)
    z = torch.randn(2, 3, 4, 4, generator=torch.Generator().manual_seed(1))
    latents, model = z * ref.init_noise_sigma, FakeEps()
    _, ours = _our_run("euler", model, sched, z, 8, "trailing", False)
    for step, t in zip(ours, ref.timesteps, strict=True):
        out = ref.step(model.predict_eps(ref.scale_model_input(latents, t), t, sched), t, latents)
        assert _rel(step.x0_pred, out.pred_original_sample) < 1e-4
        assert step.time == pytest.approx(float(t)) and step.t == round(float(t))
        latents = out.prev_sample


def test_start_scale_is_init_noise_sigma_in_vp_scale() -> None:
    sched = make_schedule("linear", T)
    for spacing in ("linspace", "leading", "trailing", "karras"):
        grid = sigma_grid("euler", sched, 10, spacing)
        ref = _scheduler("euler", "linear", 10, "linspace" if spacing == "karras" else spacing, spacing == "karras")
        s0 = float(grid.sigmas[0])
        assert grid.start_scale * (1 + s0**2) ** 0.5 == pytest.approx(float(ref.init_noise_sigma), rel=1e-6)
    assert sigma_grid("dpmpp_2m", sched, 10, "karras").start_scale == 1.0


@pytest.mark.parametrize("name", list(SAMPLERS))
@pytest.mark.parametrize("spacing", [None, "karras", "trailing"])
def test_run_plan_with_a_seed_is_diffusers_pipeline_with_that_noise(name: str, spacing: str | None) -> None:
    """run_plan draws z from the seed and starts where diffusers' pipeline starts from latents = z init_noise_sigma;
    a plan without a spacing uses the scheduler's default (linspace)."""
    from diffusion_studio.core import SamplingPlan, run_plan

    sched = make_schedule("linear", T)
    plan = SamplingPlan(sampler=name, steps=9, spacing=spacing, seed=11, batch=2)
    steps = list(run_plan(FakeEps(), sched, plan, (3, 8, 8)))
    z = torch.randn((2, 3, 8, 8), generator=torch.Generator().manual_seed(11))
    base = "linspace" if spacing in (None, "karras") else spacing
    ref = _scheduler(name, "linear", 9, base, spacing == "karras")
    inputs, final = _diffusers_run(ref, FakeEps(), sched, z)
    assert _rel(steps[0].x_t, inputs[0]) < 1e-6
    assert _rel(steps[-1].x_prev, final) < 1e-4


@pytest.mark.parametrize("name", ["euler", "heun"])
def test_a_seeded_start_is_exact_where_float32_rounding_is_amplified(name: str) -> None:
    """Cosine with T = 100: sigma_max = 2029, where one ulp of the start changes a Heun run by 4e-3; run_plan
    starts from z * init_noise_sigma exactly as diffusers' pipeline does, so the runs are identical."""
    from diffusion_studio.core import SamplingPlan, run_plan

    sched = make_schedule("cosine", 100)
    steps = list(run_plan(FakeEps(), sched, SamplingPlan(sampler=name, steps=13, seed=5), (3, 6, 6)))
    ref = getattr(diffusers, SAMPLERS[name][1])(num_train_timesteps=100, beta_schedule="squaredcos_cap_v2")
    ref.set_timesteps(13)
    z = torch.randn((1, 3, 6, 6), generator=torch.Generator().manual_seed(5))
    _, final = _diffusers_run(ref, FakeEps(), sched, z)
    assert _rel(steps[-1].x_prev, final) < 1e-6


class FakeRaw:
    """An x0- or v-predicting fake (``forward`` gives the raw output, ``predict_eps`` converts it at t, as
    :class:`NoisePredictor` does) whose output depends on t strongly enough to show which noise level reads it."""

    def __init__(self, prediction: str) -> None:
        from diffusion_studio.models.base import ModelInfo

        self.info = ModelInfo("fake", None, None, prediction=prediction)

    def forward(self, x, t, schedule, y=None):
        t = torch.as_tensor(t).reshape(-1).to(torch.float32).reshape(-1, 1, 1, 1)
        return 0.5 * torch.tanh(x) * torch.cos(t / 40) + 0.1 * x.roll(1, -1)

    def predict_eps(self, x, t, schedule, y=None):
        from diffusion_studio.core.parameterization import to_eps

        t = torch.as_tensor(t).reshape(-1).expand(x.shape[0])
        return to_eps(self.forward(x, t, schedule), x, alpha_bar_at(schedule.alpha_bars, t, x), self.info.prediction)


@pytest.mark.parametrize("name", list(SAMPLERS))
@pytest.mark.parametrize("prediction", ["sample", "v_prediction"])
@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_x0_and_v_models_are_read_as_diffusers_reads_them(name: str, prediction: str, kind: str) -> None:
    """The raw output at the grid's sigma, as diffusers' prediction_type="sample"/"v_prediction" (DPM-Solver++ on
    Karras sigmas: not the integer model time's noise level; Euler/Heun at sigma_max 2e4: no eps round trip)."""
    sched = make_schedule(kind, T)
    ref = getattr(diffusers, SAMPLERS[name][1])(
        num_train_timesteps=T,
        beta_schedule=DIFFUSERS_NAMES[kind],
        beta_start=1e-4,
        beta_end=0.02,
        use_karras_sigmas=True,
        prediction_type=prediction,
    )
    ref.set_timesteps(12)
    ref.set_begin_index(0)
    model = FakeRaw(prediction)
    z = torch.randn((1, 3, 6, 6), generator=torch.Generator().manual_seed(2))
    x = z * ref.init_noise_sigma
    for t in ref.timesteps:
        x = ref.step(model.forward(ref.scale_model_input(x, t), t, sched), t, x).prev_sample
    grid = sigma_grid(name, sched, 12, "karras")
    sampler = SAMPLERS[name][0]
    ours = list(sampler(model, sched, z * grid.start_scale, grid, start_noise=z))
    assert _rel(ours[-1].x_prev, x) < 1e-5
    for s in ours:  # x0-hat and eps-hat still make up x_t at the step's noise level
        a = s.alpha_bar
        torch.testing.assert_close(s.x_t, a**0.5 * s.x0_pred + (1 - a) ** 0.5 * s.eps_pred, atol=1e-3, rtol=1e-3)
