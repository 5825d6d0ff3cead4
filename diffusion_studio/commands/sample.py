"""``diffusion-studio sample``: run a reverse process with a progress bar, write a GIF, a PNG and a sheet."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from diffusion_studio.commands import arguments as A
from diffusion_studio.commands import sample_more
from diffusion_studio.core.plan import SamplingPlan
from diffusion_studio.core.schedules import MAX_T, MIN_T
from diffusion_studio.core.steps import SamplerName, Spacing, Variance, parse_interval
from diffusion_studio.errors import OptionError
from diffusion_studio.io.frames import EXPORT_PANELS
from diffusion_studio.models.diffusers_defaults import model_sampler_defaults, say_cost
from diffusion_studio.runs import PreparedRun, RunRequest, prepare_run
from diffusion_studio.threads import MAX_THREADS

MAX_SIZE = 2048  # a closed-form model's side in pixels
MAX_BATCH = 4096


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
    m.add_argument(
        "--T", type=A.whole(MIN_T, MAX_T), default=None, help="number of diffusion steps, closed-form models only"
    )
    m.add_argument(
        "--size",
        type=A.whole(8, MAX_SIZE),
        default=None,
        help="image side for closed-form models (default 64 from noise, 128 with --init)",
    )
    s = p.add_argument_group("sampler")
    s.add_argument(
        "--sampler",
        default=None,
        choices=[e.value for e in SamplerName],
        help="ancestral DDPM, DDIM, or Euler / Heun / DPM-Solver++(2M) on a sigma grid (Karras et al. 2022) "
        "(default: ddpm, or what a diffusers model folder's scheduler names)",
    )
    s.add_argument(
        "--churn", type=A.number(0, 1000), default=0.0, help="Heun only: stochastic churn S_churn (0 = deterministic)"
    )
    s.add_argument(
        "--steps", type=A.whole(1, MAX_T), default=None, help="number of steps (default: T for DDPM, 50 for DDIM)"
    )
    s.add_argument("--eta", type=A.number(0, 1), default=0.0, help="DDIM noise: 0 deterministic, 1 DDPM-like")
    s.add_argument(
        "--spacing",
        default=None,
        choices=[e.value for e in Spacing],
        help="how a shorter run picks its timesteps (default: leading for ddpm/ddim and linspace for the others, "
        "as diffusers, or a diffusers model folder's own); karras: Karras sigmas (euler, heun, dpmpp_2m)",
    )
    s.add_argument(
        "--variance",
        default=None,
        choices=[e.value for e in Variance],
        help="DDPM sigma_t^2: beta_t or the posterior variance beta~_t "
        "(default: beta_tilde, or a diffusers model folder's)",
    )
    s.add_argument("--no-clip", action="store_true", help="do not clip the predicted x0 to [-1, 1]")
    s.add_argument("--seed", type=A.seed, default=0, help="random seed; the same seed gives the same frames")
    s.add_argument("--batch", type=A.whole(1, MAX_BATCH), default=1, help="how many images to sample side by side")
    g = p.add_argument_group("class and guidance")
    g.add_argument(
        "--class", dest="class_label", default=None, help="class name or index (models with classes)"
    )
    g.add_argument(
        "--guidance",
        type=A.number(-100, 100),
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
        type=A.number(0, 100),
        default=0.0,
        help="classifier guidance scale (Dhariwal & Nichol), needs a model with a classifier",
    )
    i = p.add_argument_group("start from an image (SDEdit)")
    i.add_argument(
        "--init", type=Path, default=None, help="start from this image noised to t0 instead of noise"
    )
    i.add_argument(
        "--strength",
        type=A.number(0, 1, lo_open=True),
        default=None,
        help="t0 as a fraction of T for --init (default 0.6): higher keeps less of the image",
    )
    o = p.add_argument_group("output")
    o.add_argument("--gif", type=A.output_file, default=None, help="write the denoising as an animated GIF")
    o.add_argument("--png", type=A.output_file, default=None, help="write the final image as PNG")
    o.add_argument(
        "--sheet", type=A.output_file, default=None, help="write a PNG contact sheet of evenly chosen steps"
    )
    o.add_argument(
        "--panels",
        type=A.choices_list(EXPORT_PANELS),
        default="x_t",
        help="GIF/sheet panels, comma-separated from x_t,x0,eps,v,flow (default x_t); v: predicted v = "
        "sqrt(abar) eps - sqrt(1-abar) x0, flow: the flow velocity eps - x0 (both from the step's predictions)",
    )
    o.add_argument("--frames", type=A.whole(2, 1000), default=100, help="about this many GIF frames (default 100)")
    o.add_argument("--fps", type=A.number(A.MIN_FPS, 100), default=20.0, help="GIF frames per second")
    o.add_argument("--scale", type=A.whole(1, 64), default=None, help="whole-number upscale (default: to about 256 px)")
    o.add_argument("--hold", type=A.whole(0, 60000), default=1500, help="extra milliseconds on the last GIF frame")
    o.add_argument("--no-label", action="store_true", help="no 't = ...' caption on frames")
    o.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--threads", type=A.whole(1, MAX_THREADS), default=None, help="CPU threads (default: the idle cores)"
    )
    sample_more.add_arguments(p)  # --seeds, --branch-at/--branches, --filmstrip (session layer)


def run(args: argparse.Namespace) -> int:
    from diffusion_studio.commands.recording import record_run, run_caption, write_outputs

    strength = args.strength if args.strength is not None else (0.6 if args.init is not None else None)
    chosen = model_sampler_defaults(args)  # a diffusers folder's scheduler config fills what was not given
    plan = SamplingPlan(
        sampler=chosen.sampler,
        steps=chosen.steps,
        eta=args.eta,
        spacing=chosen.spacing,
        variance=chosen.variance,
        clip_x0=chosen.clip_x0,
        seed=args.seed,
        batch=args.batch,
        strength=strength,
        churn=args.churn,
        guidance_interval=args.guidance_interval,
        **chosen.plan_settings(),
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
    A.distinct_outputs(gif=args.gif, png=args.png, sheet=args.sheet)
    if sample_more.wanted(args):
        return sample_more.run(args, request)
    prepared = prepare_run(request)
    check_fits(prepared, args)
    say_cost(prepared, chosen.notes, args.quiet)
    recording = record_run(prepared, args.panels, frame_count=args.frames, quiet=args.quiet)
    write_outputs(recording, args, run_caption(prepared))
    return 0


def check_fits(prepared: PreparedRun, args: argparse.Namespace) -> None:
    """Refuse, before sampling, a run whose pictures or memory cannot fit (OptionError with a sentence)."""
    from diffusion_studio.commands.recording import _auto_scale

    batch, (channels, height, width) = prepared.plan.batch, prepared.shape
    grid = math.ceil(math.sqrt(batch))  # the batch is tiled into a near-square grid with 2-pixel gaps
    tile_h, tile_w = grid * (height + 2), grid * (width + 2)
    scale = args.scale if args.scale is not None else _auto_scale(max(height, width))
    panels = len(args.panels)
    A.check_picture(
        panels * tile_w * scale, tile_h * scale, "Each frame", "lower --scale, --batch or the number of --panels"
    )
    kept = min(args.frames, len(prepared.plan.timesteps(prepared.schedule)) + 1) + 1
    frames = kept * panels * tile_h * tile_w * channels  # the recorded uint8 frames
    gif = kept * panels * tile_w * scale * (tile_h * scale + 40) if args.gif is not None else 0
    pixels = batch * channels * height * width
    base = int(prepared.model.info.extra.get("config", {}).get("base_channels", 0) or 0)
    # a U-Net: activations at full resolution (skips kept for the decoder), twice with guidance;
    # closed-form: the batch against every reference picture
    work = batch * height * width * base * 4 * 16 * 2 if base else pixels * 4 * 16 + pixels // batch * 4 * 64
    A.check_memory(
        frames + gif + work,
        f"Sampling a batch of {batch} at {width}x{height} keeping {kept} frames",
        "lower --batch, --size, --frames or --scale",
    )
