"""Every scheduler field of a diffusers folder maps onto the studio's schedule and sampler defaults."""

from __future__ import annotations

from pathlib import Path

import diffusers
import numpy as np
import pytest

from diffusion_studio.errors import ModelError
from diffusion_studio.models.diffusers_config import plan_from_defaults, schedule_and_defaults

PATH = Path("scheduler_config.json")


@pytest.mark.parametrize("name", ["linear", "scaled_linear", "squaredcos_cap_v2", "sigmoid"])
def test_beta_schedules_equal_diffusers(name: str) -> None:
    config = {
        "_class_name": "DDPMScheduler",
        "beta_schedule": name,
        "beta_start": 2e-4,
        "beta_end": 0.03,
        "num_train_timesteps": 500,
    }
    sched, _ = schedule_and_defaults(config, PATH)
    ref = diffusers.DDPMScheduler.from_config(config)
    assert sched.T == 500
    np.testing.assert_allclose(sched.betas, ref.betas.double().numpy(), rtol=2e-6, atol=1e-9)
    np.testing.assert_allclose(sched.alpha_bars, ref.alphas_cumprod.double().numpy(), rtol=1e-4)


def test_trained_betas_become_an_explicit_schedule() -> None:
    betas = np.linspace(1e-3, 0.05, 20) ** 1.5
    sched, _ = schedule_and_defaults({"trained_betas": betas.tolist(), "beta_schedule": "linear"}, PATH)
    assert sched.kind == "custom" and sched.T == 20
    np.testing.assert_array_equal(sched.betas, betas)


@pytest.mark.parametrize(
    ("variance_type", "variance"),
    [
        ("fixed_small", "beta_tilde"),
        ("fixed_small_log", "beta_tilde"),
        ("fixed_large", "beta"),
        ("fixed_large_log", "beta"),
    ],
)
def test_variance_type(variance_type: str, variance: str) -> None:
    assert schedule_and_defaults({"variance_type": variance_type}, PATH)[1].variance == variance


def test_defaults_when_keys_are_absent() -> None:
    sched, d = schedule_and_defaults({}, PATH)
    assert (sched.kind, sched.T, sched.beta_start, sched.beta_end) == ("linear", 1000, 1e-4, 0.02)
    assert (d.prediction, d.variance, d.clip_x0, d.spacing, d.sampler) == (
        "epsilon",
        "beta_tilde",
        True,
        "leading",
        "ddpm",
    )


@pytest.mark.parametrize("prediction", ["epsilon", "sample", "v_prediction"])
def test_prediction_type(prediction: str) -> None:
    assert schedule_and_defaults({"prediction_type": prediction}, PATH)[1].prediction == prediction


def test_clip_spacing_offset_and_ddim() -> None:
    _, d = schedule_and_defaults(
        {
            "_class_name": "DDIMScheduler",
            "clip_sample": False,
            "clip_sample_range": 2.0,
            "timestep_spacing": "trailing",
            "steps_offset": 1,
        },
        PATH,
    )
    assert (d.sampler, d.clip_x0, d.clip_range, d.spacing, d.steps_offset) == ("ddim", False, 2.0, "trailing", 1)
    _, clipped = schedule_and_defaults({"clip_sample": True, "clip_sample_range": 1.5, "steps_offset": 1}, PATH)
    assert clipped.notes == ()  # both are applied now: the plan carries them (tests/core/test_config_sweep.py)
    plan = plan_from_defaults(clipped, steps=10)
    assert (plan.clip_x0, plan.clip_range, plan.steps_offset) == (True, 1.5, 1)


def test_legacy_2022_keys() -> None:
    """The June 2022 GaussianDDPMScheduler config: ``timesteps`` and ``clip_predicted_image``."""
    sched, d = schedule_and_defaults(
        {
            "_class_name": "GaussianDDPMScheduler",
            "timesteps": 300,
            "beta_start": 1e-4,
            "beta_end": 0.02,
            "beta_schedule": "linear",
            "variance_type": "fixed_large",
            "clip_predicted_image": False,
        },
        PATH,
    )
    assert sched.T == 300 and d.variance == "beta" and d.clip_x0 is False and d.sampler == "ddpm"


@pytest.mark.parametrize(
    ("config", "words"),
    [
        ({"beta_schedule": "laplace"}, "beta_schedule"),
        ({"num_train_timesteps": "1000"}, "num_train_timesteps"),
        ({"num_train_timesteps": 10**12}, "num_train_timesteps"),
        ({"num_train_timesteps": True}, "num_train_timesteps"),
        ({"beta_start": 0.5, "beta_end": 0.1}, "schedule"),
        ({"beta_end": float("nan")}, "beta_end"),
        ({"trained_betas": ["a"]}, "trained_betas"),
        ({"trained_betas": [0.5, 1.5]}, "schedule"),
        ({"variance_type": "learned_range"}, "learned"),
        ({"prediction_type": "flow"}, "prediction_type"),
        ({"timestep_spacing": "karras"}, "timestep_spacing"),
        ({"clip_sample": "yes"}, "clip_sample"),
        ({"_class_name": "UNet2DModel"}, "scheduler"),
        ({"rescale_betas_zero_snr": True}, "zero terminal SNR"),
    ],
)
def test_hostile_scheduler_configs_are_one_sentence(config: dict, words: str) -> None:
    with pytest.raises(ModelError, match=words) as info:
        schedule_and_defaults(config, PATH)
    message = str(info.value)
    assert "\n" not in message and str(PATH) in message and message.endswith((".", ")"))


@pytest.mark.parametrize(
    ("cls", "sampler"),
    [("DDPMScheduler", "ddpm"), ("DDIMScheduler", "ddim"), ("EulerDiscreteScheduler", "euler"),
     ("HeunDiscreteScheduler", "heun"), ("DPMSolverMultistepScheduler", "dpmpp_2m"), ("PNDMScheduler", "ddpm")],
)
def test_the_named_scheduler_sets_the_default_sampler(cls: str, sampler: str) -> None:
    assert schedule_and_defaults({"_class_name": cls}, PATH)[1].sampler == sampler


def test_karras_sigmas() -> None:
    config = {"_class_name": "EulerDiscreteScheduler", "use_karras_sigmas": True, "timestep_spacing": "linspace"}
    assert schedule_and_defaults(config, PATH)[1].spacing == "karras"
