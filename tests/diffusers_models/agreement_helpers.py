"""Whole runs two ways: the studio's run_plan on the loaded folder, and diffusers' pipelines on the same U-Net."""

from __future__ import annotations

import diffusers
import torch

from diffusion_studio.core.plan import SamplingPlan, run_plan
from diffusion_studio.core.samplers import drain


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    """||a - b|| / ||b||."""
    return float((a.double() - b.double()).norm() / b.double().norm())


def studio_run(model, plan: SamplingPlan) -> torch.Tensor:
    info = model.info
    sched = info.training_schedule()
    shape = (info.channels, info.image_size, info.image_size)
    return drain(run_plan(model, sched, plan, shape))


def pipeline_images(pipeline_cls, unet, scheduler, seed: int, batch: int, **call) -> torch.Tensor:
    """The pipeline's own output ((x + 1) / 2 clamped to [0, 1], NHWC) as an NCHW tensor."""
    pipe = pipeline_cls(unet=unet, scheduler=scheduler)
    pipe.set_progress_bar_config(disable=True)
    out = pipe(batch_size=batch, generator=torch.Generator().manual_seed(seed), output_type="np", **call).images
    return torch.from_numpy(out).permute(0, 3, 1, 2)


def in_float64(scheduler):
    """The scheduler's alpha-bars recomputed in float64 from its own betas.

    diffusers keeps them in float32, where 1 - abar_t / abar_{t-1} near t = 0 loses three digits to cancellation
    (see tests/core/test_diffusers_agreement.py); over a whole DDPM run that alone moves the result by ~4e-5
    relative. The exact loops below use float64 scheduler numbers, as the studio does; the pipelines themselves
    (float32) are compared at a tolerance that allows for it.
    """
    scheduler.betas = scheduler.betas.double()
    scheduler.alphas = 1.0 - scheduler.betas
    scheduler.alphas_cumprod = torch.cumprod(scheduler.alphas, dim=0)
    if hasattr(scheduler, "final_alpha_cumprod"):
        scheduler.final_alpha_cumprod = scheduler.final_alpha_cumprod.double()
    return scheduler


def pipeline_loop(pipeline_cls, unet, scheduler, seed: int, batch: int, steps: int, **step_kwargs) -> torch.Tensor:
    """The loop of DDPMPipeline / DDIMPipeline.__call__ (diffusers 0.42) with float64 scheduler numbers.

    Same noise order as the pipelines: x_T first, then one draw per step from the same generator. No final clamp.
    """
    if pipeline_cls is diffusers.DDIMPipeline:
        scheduler = diffusers.DDIMScheduler.from_config(scheduler.config)
    else:
        scheduler = diffusers.DDPMScheduler.from_config(scheduler.config)
    scheduler = in_float64(scheduler)
    generator = torch.Generator().manual_seed(seed)
    size = unet.config.sample_size
    image = torch.randn((batch, unet.config.in_channels, size, size), generator=generator)
    scheduler.set_timesteps(steps)
    with torch.no_grad():
        for t in scheduler.timesteps:
            eps = unet(image, t).sample
            image = scheduler.step(eps, t, image, generator=generator, **step_kwargs).prev_sample.float()
    return image
