"""Whole runs against diffusers on scheduler configurations beyond the defaults (representatives of the sweep in
benchmarks/sweep_agreement.py, each one that found a difference or guards a fix).

The studio's side goes the way a diffusers folder goes: the scheduler config -> ``schedule_and_defaults`` ->
``plan_from_defaults`` -> ``run_plan`` with a seed; diffusers' side is its pipeline loop from the same z (times
``init_noise_sigma``) with the same generator for later draws. Same deterministic model on both sides.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from core_helpers import FakeNet

from diffusion_studio.core.plan import SamplingPlan, run_plan
from diffusion_studio.errors import ModelError, OptionError
from diffusion_studio.models.diffusers_config import plan_from_defaults, schedule_and_defaults

diffusers = pytest.importorskip("diffusers")

SHAPE = (3, 8, 8)
PATH = Path("scheduler_config.json")
CLASSES = {
    "ddpm": "DDPMScheduler",
    "ddim": "DDIMScheduler",
    "euler": "EulerDiscreteScheduler",
    "heun": "HeunDiscreteScheduler",
    "dpmpp_2m": "DPMSolverMultistepScheduler",
}
SCALED = {"beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012}
COSINE = {"beta_schedule": "squaredcos_cap_v2"}


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).norm() / b.double().norm())


def diffusers_run(sampler: str, config: dict, steps: int, model, sched, seed: int, batch: int, eta: float):
    """diffusers' pipeline loop (DDIM with use_clipped_model_output=True, as the studio clips); inputs and result."""
    ref = getattr(diffusers, CLASSES[sampler])(**config)
    ref.set_timesteps(steps)
    if sampler in ("euler", "heun", "dpmpp_2m"):
        ref.set_begin_index(0)  # a repeated first timestep would otherwise shift diffusers' own index
    generator = torch.Generator().manual_seed(seed)
    latents = torch.randn((batch, *SHAPE), generator=generator) * ref.init_noise_sigma
    raw = config.get("prediction_type", "epsilon") != "epsilon"
    inputs = []
    for t in ref.timesteps:
        x_in = ref.scale_model_input(latents, t)
        inputs.append(x_in)
        out = model.forward(x_in, t, sched) if raw else model.predict_eps(x_in, t, sched)
        kwargs = {"generator": generator} if sampler == "ddpm" else {}
        if sampler == "ddim":
            kwargs = {"eta": eta, "generator": generator, "use_clipped_model_output": True}
        latents = ref.step(out, t, latents, **kwargs).prev_sample.float()
    return inputs, latents, generator


def studio_run(sampler: str, config: dict, steps: int, model, seed: int, batch: int, eta: float):
    sched, defaults = schedule_and_defaults({"_class_name": CLASSES[sampler], **config}, PATH)
    plan = plan_from_defaults(defaults, steps=steps, eta=eta, seed=seed, batch=batch)
    return sched, plan, list(run_plan(model, sched, plan, SHAPE))


def assert_agrees(sampler: str, config: dict, steps: int, *, batch: int = 1, eta: float = 0.0, tol: float = 1e-4):
    model = FakeNet(config.get("prediction_type", "epsilon"))
    sched, _, ours = studio_run(sampler, config, steps, model, 3, batch, eta)
    inputs, final, _ = diffusers_run(sampler, config, steps, model, sched, 3, batch, eta)
    stride = 2 if sampler == "heun" else 1
    assert len(ours) == steps
    for i, step in enumerate(ours):
        assert _rel(step.x_t, inputs[stride * i]) < tol, f"x_t differs at step {i}"
    assert _rel(ours[-1].x_prev, final) < tol


SIGMA_CASES = [
    # (sampler, config, steps): each found a difference before its fix, or guards a rule of diffusers'
    ("euler", {"num_train_timesteps": 2000, **SCALED, "timestep_spacing": "trailing"}, 1),  # float32 betas
    ("heun", {"num_train_timesteps": 2000, **SCALED}, 3),
    ("dpmpp_2m", {"num_train_timesteps": 2000, "beta_start": 5e-5, "beta_end": 0.01}, 1),
    ("euler", {"timestep_spacing": "leading", "use_karras_sigmas": True}, 7),  # Karras on its own spacing
    ("heun", {"timestep_spacing": "trailing", "use_karras_sigmas": True, **COSINE}, 5),
    ("dpmpp_2m", {"timestep_spacing": "leading", "use_karras_sigmas": True, **SCALED}, 10),
    ("dpmpp_2m", {"use_karras_sigmas": True, **COSINE}, 12),  # diffusers' plain loop fails here (998, 998, ...)
    ("euler", {"timestep_spacing": "leading", "steps_offset": 1}, 10),  # steps_offset
    ("heun", {"timestep_spacing": "leading", "steps_offset": 3, "num_train_timesteps": 500}, 6),
    ("dpmpp_2m", {"timestep_spacing": "leading", "steps_offset": 5, "use_karras_sigmas": True, **SCALED}, 20),
    ("euler", {"prediction_type": "v_prediction", **COSINE}, 9),  # no timestep_spacing key: linspace
    ("heun", {"prediction_type": "sample"}, 9),  # no beta keys: Heun's 0.00085 / 0.012
    ("dpmpp_2m", {"prediction_type": "sample", **SCALED}, 9),
    ("euler", {"final_sigmas_type": "sigma_min"}, 10),
    ("dpmpp_2m", {"final_sigmas_type": "sigma_min"}, 7),  # lower_order_final: first order to sigma_min
    ("dpmpp_2m", {"final_sigmas_type": "sigma_min", "lower_order_final": False}, 7),
    ("dpmpp_2m", {"final_sigmas_type": "sigma_min", "use_karras_sigmas": True}, 20),  # 15+: second order
    ("dpmpp_2m", {"final_sigmas_type": "sigma_min", "euler_at_final": True}, 20),
    ("euler", {"num_train_timesteps": 100, **COSINE, "timestep_spacing": "trailing"}, 100),
]


@pytest.mark.parametrize(("sampler", "config", "steps"), SIGMA_CASES)
def test_sigma_samplers_agree_beyond_the_defaults(sampler: str, config: dict, steps: int) -> None:
    if sampler == "dpmpp_2m":
        config = {"algorithm_type": "dpmsolver++", "solver_order": 2, **config}
    assert_agrees(sampler, config, steps)


@pytest.mark.parametrize("sampler", ["euler", "heun", "dpmpp_2m"])
def test_trained_betas_and_a_batch(sampler: str) -> None:
    betas = [float(b) for b in torch.linspace(0.001, 0.03, 300).double() ** 1.5]
    assert_agrees(sampler, {"num_train_timesteps": 300, "trained_betas": betas, "use_karras_sigmas": True}, 11, batch=3)


@pytest.mark.slow
@pytest.mark.parametrize("sampler", ["euler", "heun", "dpmpp_2m"])
def test_999_steps(sampler: str) -> None:
    assert_agrees(sampler, {"use_karras_sigmas": sampler != "heun"}, 999)


DDPM_DDIM_CASES = [
    ("ddim", {"steps_offset": 1, "clip_sample_range": 1.5, "set_alpha_to_one": False, **SCALED}, 20, 0.5),
    ("ddim", {"steps_offset": 1, "set_alpha_to_one": False, "clip_sample": False, **COSINE}, 10, 0.0),
    ("ddim", {"prediction_type": "sample", **COSINE, "clip_sample": False}, 10, 0.5),  # raw x0, no eps round trip
    ("ddim", {"prediction_type": "v_prediction", **COSINE}, 10, 1.0),
    ("ddpm", {"steps_offset": 1, "clip_sample_range": 1.5}, 10, 0.0),
    ("ddpm", {"prediction_type": "sample", **COSINE, "clip_sample": False}, 10, 0.0),
    ("ddpm", {"prediction_type": "v_prediction", "num_train_timesteps": 100, "variance_type": "fixed_large"}, 100, 0),
    ("ddpm", {"timestep_spacing": "trailing", "variance_type": "fixed_small", "num_train_timesteps": 500}, 7, 0.0),
]


@pytest.mark.parametrize(("sampler", "config", "steps", "eta"), DDPM_DDIM_CASES)
def test_ddpm_and_ddim_agree_beyond_the_defaults(sampler: str, config: dict, steps: int, eta: float) -> None:
    assert_agrees(sampler, config, steps, batch=2, eta=eta)


def test_ddpm_last_step_noise_is_the_one_documented_difference() -> None:
    """diffusers' DDPM adds noise whenever t > 0, so a trailing-spaced run with fixed_large variance adds
    sqrt(beta) z at its last step (t = 99); the studio's last step adds none. That is the whole difference."""
    config = {"timestep_spacing": "trailing", "variance_type": "fixed_large"}
    model = FakeNet()
    sched, _, ours = studio_run("ddpm", config, 10, model, 4, 1, 0.0)
    _, final, _ = diffusers_run("ddpm", config, 10, model, sched, 4, 1, 0.0)
    assert ours[-1].t == 99 and _rel(ours[-1].x_prev, final) > 1e-2
    # both drew x_T and 9 step noises alike; diffusers then drew one more z for its last step
    replay = torch.Generator().manual_seed(4)
    for _ in range(10):
        torch.randn((1, *SHAPE), generator=replay)
    z = torch.randn((1, *SHAPE), generator=replay)
    beta = 1 - float(sched.alpha_bars[99])  # beta of the last (respaced) step: 1 - abar_99 / abar_{-1}
    assert _rel(ours[-1].x_prev + beta**0.5 * z, final) < 1e-4


def test_a_folder_with_offset_range_and_karras_spacing_maps_onto_the_plan() -> None:
    _, d = schedule_and_defaults(
        {"_class_name": "EulerDiscreteScheduler", "timestep_spacing": "leading", "use_karras_sigmas": True,
         "steps_offset": 1, "final_sigmas_type": "sigma_min", "sigma_min": None},
        PATH,
    )
    plan = plan_from_defaults(d, steps=10)
    assert (plan.spacing, plan.karras, plan.steps_offset, plan.final_sigmas_type) == ("leading", True, 1, "sigma_min")
    assert d.notes == ()  # null keys read as absent; everything here is applied
    sched, d = schedule_and_defaults({"_class_name": "HeunDiscreteScheduler"}, PATH)
    assert (sched.beta_start, sched.beta_end, d.spacing, d.clip_x0) == (0.00085, 0.012, "linspace", False)
    _, d = schedule_and_defaults({"_class_name": "DPMSolverMultistepScheduler", "solver_order": 3}, PATH)
    assert any("solver_order 3 is not reproduced" in n for n in d.notes) and d.spacing == "linspace"
    with pytest.raises(ModelError, match="final_sigmas_type"):
        schedule_and_defaults({"_class_name": "EulerDiscreteScheduler", "final_sigmas_type": "one"}, PATH)


@pytest.mark.parametrize(
    ("plan", "words"),
    [
        (SamplingPlan(sampler="ddim", steps=1000, steps_offset=1), "past T - 1"),
        (SamplingPlan(sampler="euler", steps=10, spacing="leading", steps_offset=-1), "offset"),
        (SamplingPlan(sampler="ddim", karras=True), "Karras"),
        (SamplingPlan(sampler="ddpm", clip_range=0.0), "clipping range"),
        (SamplingPlan(sampler="heun", final_sigmas_type="sigma_min"), "final sigma"),
        (SamplingPlan(sampler="euler", final_sigmas_type="one"), "final sigma"),
    ],
)
def test_bad_settings_are_one_sentence(plan: SamplingPlan, words: str) -> None:
    from diffusion_studio.core import make_schedule

    with pytest.raises(OptionError, match=words) as info:
        list(run_plan(FakeNet(), make_schedule("linear", 1000), plan, SHAPE))
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("spacing", ["linspace", "leading"])
def test_dpm_refuses_spacings_that_repeat_a_timestep(spacing: str) -> None:
    """linspace/leading take n + 1 points: with n = T one repeats (diffusers' run gives NaN or fails)."""
    from diffusion_studio.core import make_schedule

    sched = make_schedule("linear", 100)
    with pytest.raises(OptionError, match="repeats one") as info:
        list(run_plan(FakeNet(), sched, SamplingPlan(sampler="dpmpp_2m", steps=100, spacing=spacing), SHAPE))
    assert "\n" not in str(info.value)


def test_the_whole_ddpm_chain_has_no_room_for_an_offset() -> None:
    """DDPM over every t ignores steps_offset (diffusers' own leading timesteps would reach t = T and fail)."""
    from diffusion_studio.core import make_schedule

    sched = make_schedule("linear", 50)
    assert SamplingPlan(sampler="ddpm", steps_offset=1).timesteps(sched) == list(range(49, -1, -1))
    assert SamplingPlan(sampler="ddpm", steps=10, steps_offset=1).timesteps(sched)[-1] == 1
    assert len(SamplingPlan(sampler="dpmpp_2m").timesteps(make_schedule("linear", 20))) == 19  # default: T - 1
