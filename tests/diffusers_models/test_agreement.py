"""Whole runs: the studio's sampler on a loaded folder equals diffusers' DDPMPipeline / DDIMPipeline on the same U-Net.

Both are fed the same noise (one CPU generator, x_T first, then one draw per step). DDIM's clipping follows
guided-diffusion (the direction term uses the eps of the clipped x0), which is diffusers'
``use_clipped_model_output=True``; the pipelines are called with it.
"""

from __future__ import annotations

import diffusers
import pytest
import torch
from agreement_helpers import pipeline_images, pipeline_loop, relative_error, studio_run
from diffusers_helpers import CIFAR_CONFIG, make_unet, save_flat, save_pipeline

from diffusion_studio.core.plan import SamplingPlan
from diffusion_studio.models.registry import load_model

T = 50  # a short schedule keeps a whole DDPM run (every t) under a second


@pytest.fixture(scope="module")
def tiny_unet():
    return make_unet(seed=40)


@pytest.mark.parametrize("variance_type", ["fixed_small", "fixed_large"])
@pytest.mark.parametrize("clip", [True, False])
def test_whole_ddpm_run_equals_the_pipeline_loop(tmp_path, tiny_unet, variance_type, clip) -> None:
    scheduler = diffusers.DDPMScheduler(num_train_timesteps=T, variance_type=variance_type, clip_sample=clip)
    model = load_model(save_flat(tmp_path / "m", tiny_unet, scheduler))
    d = model.info.extra["sampler_defaults"]
    plan = SamplingPlan(sampler="ddpm", variance=d["variance"], clip_x0=d["clip_x0"], seed=3, batch=2)
    ours = studio_run(model, plan)
    ref = pipeline_loop(diffusers.DDPMPipeline, tiny_unet, scheduler, seed=3, batch=2, steps=T)
    assert ref.std() > 0.1
    assert relative_error(ours, ref) < 1e-5


@pytest.mark.parametrize("eta", [0.0, 1.0])
@pytest.mark.parametrize("spacing", ["leading", "trailing"])
def test_whole_ddim_run_equals_the_pipeline_loop(tmp_path, tiny_unet, eta, spacing) -> None:
    scheduler = diffusers.DDPMScheduler(num_train_timesteps=1000, timestep_spacing=spacing)
    model = load_model(save_pipeline(tmp_path / "m", tiny_unet, scheduler))
    d = model.info.extra["sampler_defaults"]
    plan = SamplingPlan(sampler="ddim", steps=20, eta=eta, spacing=d["spacing"], clip_x0=True, seed=5, batch=2)
    ours = studio_run(model, plan)
    ref = pipeline_loop(
        diffusers.DDIMPipeline,
        tiny_unet,
        scheduler,
        seed=5,
        batch=2,
        steps=20,
        eta=eta,
        use_clipped_model_output=True,
    )
    assert relative_error(ours, ref) < 1e-5


def test_the_pipelines_themselves_agree(tmp_path, tiny_unet) -> None:
    """DDPMPipeline and DDIMPipeline as shipped (float32 schedule, output clamped to [0, 1])."""
    scheduler = diffusers.DDPMScheduler(num_train_timesteps=T, variance_type="fixed_large")
    model = load_model(save_flat(tmp_path / "m", tiny_unet, scheduler))
    ours = studio_run(model, SamplingPlan(sampler="ddpm", variance="beta", seed=7, batch=2))
    ref = pipeline_images(diffusers.DDPMPipeline, tiny_unet, scheduler, 7, 2, num_inference_steps=T)
    inside = ((ref > 0) & (ref < 1)).float().mean()
    assert inside > 0.3  # most pixels are not clamped, so the comparison means something
    assert (ours / 2 + 0.5).clamp(0, 1).sub(ref).abs().max() < 1e-3
    ours = studio_run(model, SamplingPlan(sampler="ddim", steps=10, eta=0.5, seed=8, batch=2))
    ref = pipeline_images(
        diffusers.DDIMPipeline,
        tiny_unet,
        scheduler,
        8,
        2,
        num_inference_steps=10,
        eta=0.5,
        use_clipped_model_output=True,
    )
    assert (ours / 2 + 0.5).clamp(0, 1).sub(ref).abs().max() < 1e-4


@pytest.mark.slow
def test_google_ddpm_cifar10_shape(tmp_path) -> None:
    """The exact google/ddpm-cifar10-32 U-Net (35.7M parameters, random weights), saved flat as that repository."""
    unet = make_unet(CIFAR_CONFIG, seed=41)
    assert sum(p.numel() for p in unet.parameters()) == 35_746_307
    scheduler = diffusers.DDPMScheduler(num_train_timesteps=1000, variance_type="fixed_large", clip_sample=True)
    model = load_model(save_flat(tmp_path / "ddpm-cifar10-32", unet, scheduler))
    assert (model.info.image_size, model.info.channels, model.info.parameters) == (32, 3, 35_746_307)
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    t = torch.tensor([321])
    with torch.no_grad():
        expected = unet(x, t).sample
    assert relative_error(model.predict_eps(x, t, model.info.training_schedule()), expected) < 1e-6
    ddpm = SamplingPlan(sampler="ddpm", steps=2, variance="beta", seed=1)
    ref = pipeline_loop(diffusers.DDPMPipeline, unet, scheduler, seed=1, batch=1, steps=2)
    assert relative_error(studio_run(model, ddpm), ref) < 1e-5
    ddim = SamplingPlan(sampler="ddim", steps=2, eta=1.0, seed=2)
    ref = pipeline_loop(
        diffusers.DDIMPipeline, unet, scheduler, seed=2, batch=1, steps=2, eta=1.0, use_clipped_model_output=True
    )
    assert relative_error(studio_run(model, ddim), ref) < 1e-5
