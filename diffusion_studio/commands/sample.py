"""``diffusion-studio sample``: run a reverse process with a progress bar, write a GIF, a PNG and a sheet."""

from __future__ import annotations

import argparse
from pathlib import Path

from diffusion_studio.core.plan import SamplingPlan
from diffusion_studio.core.steps import SamplerName, Spacing, Variance, parse_interval
from diffusion_studio.errors import OptionError
from diffusion_studio.runs import RunRequest, prepare_run


def _interval(text: str) -> tuple[float, float]:
    try:
        return parse_interval(text)
    except OptionError as err:  # argparse prints "error: argument --guidance-interval: ..." and exits with 2
        raise argparse.ArgumentTypeError(str(err)) from None


def add_arguments(p: argparse.ArgumentParser) -> None:
    m = p.add_argument_group("model")
    m.add_argument(
        "--model",
        default="ideal",
        help="model name (see `diffusion-studio models`) or a model folder; default: ideal",
    )
    m.add_argument(
        "--device",
        default="auto",
        choices=["auto", "cpu", "cuda"],
        help="where to sample: auto uses CUDA when present",
    )
    m.add_argument(
        "--schedule", default=None, help="noise schedule, closed-form models only (default linear)"
    )
    m.add_argument("--T", type=int, default=None, help="number of diffusion steps, closed-form models only")
    m.add_argument(
        "--size",
        type=int,
        default=None,
        help="image side for closed-form models (default 64 from noise, 128 with --init)",
    )
    s = p.add_argument_group("sampler")
    s.add_argument(
        "--sampler",
        default="ddpm",
        choices=[e.value for e in SamplerName],
        help="ancestral DDPM, DDIM, or Euler / Heun / DPM-Solver++(2M) on a sigma grid (Karras et al. 2022)",
    )
    s.add_argument("--churn", type=float, default=0.0, help="Heun only: stochastic churn S_churn (0 = deterministic)")
    s.add_argument(
        "--steps", type=int, default=None, help="number of steps (default: T for DDPM, 50 for DDIM)"
    )
    s.add_argument("--eta", type=float, default=0.0, help="DDIM noise: 0 deterministic, 1 DDPM-like")
    s.add_argument(
        "--spacing",
        default=None,
        choices=[e.value for e in Spacing],
        help="how a shorter run picks its timesteps (default: leading for ddpm/ddim, linspace for the others, "
        "as diffusers); karras: Karras sigmas (euler, heun, dpmpp_2m)",
    )
    s.add_argument(
        "--variance",
        default="beta_tilde",
        choices=[e.value for e in Variance],
        help="DDPM sigma_t^2: beta_t or the posterior variance beta~_t",
    )
    s.add_argument("--no-clip", action="store_true", help="do not clip the predicted x0 to [-1, 1]")
    s.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives the same frames")
    s.add_argument("--batch", type=int, default=1, help="how many images to sample side by side")
    g = p.add_argument_group("class and guidance")
    g.add_argument(
        "--class", dest="class_label", default=None, help="class name or index (models with classes)"
    )
    g.add_argument(
        "--guidance",
        type=float,
        default=1.0,
        help="classifier-free guidance scale s (1 = plain conditional, 0 = unconditional)",
    )
    g.add_argument(
        "--guidance-interval",
        type=_interval,
        default=None,
        metavar="LO,HI",
        help="apply classifier-free guidance only for LO <= t <= HI (Kynkaanniemi et al. 2024)",
    )
    g.add_argument(
        "--classifier-scale",
        type=float,
        default=0.0,
        help="classifier guidance scale (Dhariwal & Nichol), needs a model with a classifier",
    )
    i = p.add_argument_group("start from an image (SDEdit)")
    i.add_argument(
        "--init", type=Path, default=None, help="start from this image noised to t0 instead of noise"
    )
    i.add_argument(
        "--strength",
        type=float,
        default=None,
        help="t0 as a fraction of T for --init (default 0.6): higher keeps less of the image",
    )
    o = p.add_argument_group("output")
    o.add_argument("--gif", type=Path, default=None, help="write the denoising as an animated GIF")
    o.add_argument("--png", type=Path, default=None, help="write the final image as PNG")
    o.add_argument(
        "--sheet", type=Path, default=None, help="write a PNG contact sheet of evenly chosen steps"
    )
    o.add_argument(
        "--panels", default="x_t", help="GIF/sheet panels, comma-separated from x_t,x0,eps (default x_t)"
    )
    o.add_argument("--frames", type=int, default=100, help="about this many GIF frames (default 100)")
    o.add_argument("--fps", type=float, default=20.0, help="GIF frames per second")
    o.add_argument("--scale", type=int, default=None, help="whole-number upscale (default: to about 256 px)")
    o.add_argument("--hold", type=int, default=1500, help="extra milliseconds on the last GIF frame")
    o.add_argument("--no-label", action="store_true", help="no 't = ...' caption on frames")
    o.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from diffusion_studio.commands.recording import record_run, write_outputs

    strength = args.strength if args.strength is not None else (0.6 if args.init is not None else None)
    plan = SamplingPlan(
        sampler=args.sampler,
        steps=args.steps,
        eta=args.eta,
        spacing=args.spacing,
        variance=args.variance,
        clip_x0=not args.no_clip,
        seed=args.seed,
        batch=args.batch,
        strength=strength,
        churn=args.churn,
        guidance_interval=args.guidance_interval,
    )
    request = RunRequest(
        model=args.model,
        schedule=args.schedule,
        T=args.T,
        size=args.size,
        init_image=args.init,
        class_label=args.class_label,
        cfg_scale=args.guidance,
        classifier_scale=args.classifier_scale,
        plan=plan,
        device=args.device,
    )
    prepared = prepare_run(request)
    panels = tuple(p.strip() for p in args.panels.split(",") if p.strip())
    recording = record_run(prepared, panels, frame_count=max(args.frames, 2), quiet=args.quiet)
    write_outputs(recording, args)
    return 0
