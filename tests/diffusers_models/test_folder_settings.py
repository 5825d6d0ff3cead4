"""A folder's steps_offset, clip_sample_range, set_alpha_to_one and Karras-on-its-spacing are applied: the studio's
run of the folder (through prepare_run, as the command line and the window run it) equals diffusers' pipeline loop.
"""

from __future__ import annotations

import diffusers
import pytest
from agreement_helpers import pipeline_loop, relative_error
from diffusers_helpers import make_unet, save_flat, save_pipeline

from diffusion_studio.core.plan import SamplingPlan, run_plan
from diffusion_studio.core.samplers import drain
from diffusion_studio.models.diffusers_defaults import choose_sampler
from diffusion_studio.session.request import RunRequest, prepare_run


@pytest.fixture(scope="module")
def tiny_unet():
    return make_unet(seed=50)


def _studio(folder, plan: SamplingPlan):
    prepared = prepare_run(RunRequest(model=str(folder), plan=plan))
    return prepared, drain(run_plan(prepared.model, prepared.schedule, prepared.plan, prepared.shape))


@pytest.mark.parametrize("eta", [0.0, 1.0])
def test_ddim_folder_with_offset_range_and_final_alpha(tmp_path, tiny_unet, eta) -> None:
    scheduler = diffusers.DDIMScheduler(
        num_train_timesteps=1000, steps_offset=1, clip_sample_range=1.5, set_alpha_to_one=False
    )
    folder = save_pipeline(tmp_path / "m", tiny_unet, scheduler)
    chosen = choose_sampler(str(folder), None, None, None, False, 10, on_cpu=True)
    assert chosen.notes == ()  # applied, so nothing to say
    plan = SamplingPlan(sampler=chosen.sampler, steps=10, eta=eta, spacing=chosen.spacing, seed=6, batch=2)
    prepared, ours = _studio(folder, plan)
    assert prepared.timesteps[0] == 901 and prepared.timesteps[-1] == 1
    assert (prepared.plan.clip_range, prepared.plan.set_alpha_to_one) == (1.5, False)
    ref = pipeline_loop(diffusers.DDIMPipeline, tiny_unet, scheduler, 6, 2, 10, eta=eta, use_clipped_model_output=True)
    assert ref.abs().max() > 1.0  # values beyond +-1: the range matters
    assert relative_error(ours, ref) < 1e-5
    plain = drain(run_plan(prepared.model, prepared.schedule, SamplingPlan("ddim", 10, eta, seed=6, batch=2),
                           prepared.shape))
    assert relative_error(plain, ref) > 1e-3  # without the folder's settings the run is another one


def test_ddpm_folder_with_offset_and_range(tmp_path, tiny_unet) -> None:
    scheduler = diffusers.DDPMScheduler(num_train_timesteps=100, steps_offset=1, clip_sample_range=0.8)
    folder = save_flat(tmp_path / "m", tiny_unet, scheduler)
    prepared, ours = _studio(folder, SamplingPlan(sampler="ddpm", steps=20, seed=2))
    assert prepared.timesteps[-1] == 1
    ref = pipeline_loop(diffusers.DDPMPipeline, tiny_unet, scheduler, 2, 1, 20)
    assert relative_error(ours, ref) < 1e-5


def test_karras_folder_keeps_its_spacing_and_ddim_on_it_drops_the_sigmas(tmp_path, tiny_unet) -> None:
    scheduler = diffusers.EulerDiscreteScheduler(timestep_spacing="leading", use_karras_sigmas=True, steps_offset=1)
    folder = save_flat(tmp_path / "m", tiny_unet, scheduler)
    chosen = choose_sampler(str(folder), None, None, None, False, 8, on_cpu=True)
    assert (chosen.sampler, chosen.spacing, chosen.plan_settings()) == ("euler", "leading", {"karras": True})
    chosen = choose_sampler(str(folder), "ddim", None, None, False, 8, on_cpu=True)
    assert (chosen.spacing, chosen.plan_settings()) == ("leading", {"karras": False})
    karras_linspace = save_flat(
        tmp_path / "k", tiny_unet, diffusers.DPMSolverMultistepScheduler(use_karras_sigmas=True)
    )
    chosen = choose_sampler(str(karras_linspace), "ddim", None, None, False, 8, on_cpu=True)
    assert (chosen.spacing, chosen.plan_settings()) == ("linspace", {"karras": False})
    # the window names the spacing alone: the folder's sampler on the folder's spacing gets its Karras sigmas
    prepared = prepare_run(RunRequest(model=str(folder), plan=SamplingPlan("euler", 8, spacing="leading")))
    assert prepared.plan.karras and prepared.plan.steps_offset == 1
    prepared = prepare_run(RunRequest(model=str(folder), plan=SamplingPlan("euler", 8, spacing="trailing")))
    assert not prepared.plan.karras


@pytest.mark.parametrize("name", ["EulerDiscreteScheduler", "HeunDiscreteScheduler", "DPMSolverMultistepScheduler"])
def test_sigma_sampler_folders_equal_diffusers_loop(tmp_path, tiny_unet, name) -> None:
    """The U-Net gets the fractional model times of Euler/Heun (Karras sigmas, linspace) as diffusers gives them."""
    import torch

    scheduler = getattr(diffusers, name)(num_train_timesteps=1000, use_karras_sigmas=True)
    folder = save_flat(tmp_path / "m", tiny_unet, scheduler)
    chosen = choose_sampler(str(folder), None, None, None, False, 6, on_cpu=True)
    plan = SamplingPlan(sampler=chosen.sampler, steps=6, spacing=chosen.spacing, seed=9, **chosen.plan_settings())
    _, ours = _studio(folder, plan)
    scheduler.set_timesteps(6)
    latents = torch.randn((1, 3, 8, 8), generator=torch.Generator().manual_seed(9)) * scheduler.init_noise_sigma
    with torch.no_grad():
        for t in scheduler.timesteps:
            eps = tiny_unet(scheduler.scale_model_input(latents, t), t).sample
            latents = scheduler.step(eps, t, latents).prev_sample
    assert relative_error(ours, latents) < 1e-4
