"""``diffusion-studio noise``: the forward process on your own image, as a strip of chosen t and/or a GIF."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from diffusion_studio.commands import arguments as A
from diffusion_studio.core.forward import q_sample
from diffusion_studio.core.schedules import MAX_T, MIN_T, SCHEDULE_NAMES, make_schedule
from diffusion_studio.errors import OptionError
from diffusion_studio.io.frames import panel_images
from diffusion_studio.io.gif import GifOptions, export_contact_sheet, export_gif
from diffusion_studio.io.images import image_to_tensor, load_image
from diffusion_studio.threads import MAX_THREADS


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("image", type=Path, help="the image to noise (PNG, JPEG, WebP, BMP, TIFF, GIF)")
    p.add_argument(
        "--t",
        default="0,250,500,750,999",
        help="comma-separated timesteps for the strip (default 0,250,500,750,999)",
    )
    p.add_argument(
        "--schedule", default="linear", choices=SCHEDULE_NAMES, help="noise schedule (default linear)"
    )
    p.add_argument("--T", type=A.whole(MIN_T, MAX_T), default=1000, help="number of diffusion steps (default 1000)")
    p.add_argument(
        "--size", type=A.whole(8, 2048), default=256, help="image side in pixels, the image is fitted (default 256)"
    )
    p.add_argument("--seed", type=A.seed, default=0, help="seed of the one eps used for every t")
    p.add_argument("--eps", action="store_true", help="show the noise eps beside x_t")
    p.add_argument("--out", type=A.output_file, default=None, help="write the strip of x_t for the chosen t as PNG")
    p.add_argument("--gif", type=A.output_file, default=None, help="write the noising process as an animated GIF")
    p.add_argument("--frames", type=A.whole(2, 1000), default=60, help="GIF frames, evenly spread over t (default 60)")
    p.add_argument(
        "--fps", type=A.number(A.MIN_FPS, 100), default=15.0, help="GIF frames per second (default 15)"
    )
    p.add_argument("--both", action="store_true", help="GIF plays noising then back again")
    p.add_argument(
        "--threads", type=A.whole(1, MAX_THREADS), default=None, help="CPU threads (default: the idle cores)"
    )


def _parse_ts(text: str, T: int) -> list[int]:  # noqa: N803
    try:
        ts = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise OptionError(f"--t takes comma-separated whole numbers, got '{text}'.") from None
    bad = [t for t in ts if not 0 <= t < T]
    if bad or not ts:
        raise OptionError(f"Every t must be between 0 and T-1 = {T - 1}; got {text}.")
    return ts


def run(args: argparse.Namespace) -> int:
    if args.out is None and args.gif is None:
        raise OptionError("Say where to write the result: --out strip.png and/or --gif forward.gif.")
    sched = make_schedule(args.schedule, args.T)
    ts = _parse_ts(args.t, sched.T)
    A.distinct_outputs(out=args.out, gif=args.gif)
    _check_fits(args, len(ts))
    x0 = image_to_tensor(load_image(args.image, size=args.size, mode="fit"))[None]
    eps = torch.randn(x0.shape, generator=torch.Generator().manual_seed(args.seed))
    panels = ("x_t", "eps") if args.eps else ("x_t",)

    def frame(t: int):
        return panel_images(q_sample(sched, x0, t, eps), None, eps, panels)

    if args.out is not None:
        export_contact_sheet(args.out, [frame(t) for t in ts], [f"t = {t}" for t in ts], columns=len(ts))
        print(f"wrote {args.out}", file=sys.stderr)
    if args.gif is not None:
        n = max(2, min(args.frames, sched.T))
        gif_ts = sorted({round(i * (sched.T - 1) / (n - 1)) for i in range(n)})
        options = GifOptions(fps=args.fps, direction="both" if args.both else "denoise", hold_last_ms=800)
        summary = export_gif(args.gif, [frame(t) for t in gif_ts], [f"t = {t}" for t in gif_ts], options)
        print(
            f"wrote {summary.path} ({summary.frames} frames, {summary.bytes / 1e6:.2f} MB)", file=sys.stderr
        )
    return 0


def _check_fits(args: argparse.Namespace, strip_frames: int) -> None:
    """Refuse, before any work, pictures or frame sets that cannot fit (the image is at most size x size)."""
    panels = 2 if args.eps else 1
    A.check_picture(strip_frames * panels * args.size, args.size, "The strip", "lower --size or give fewer --t")
    frames = (min(args.frames, args.T) if args.gif is not None else 0) + (strip_frames if args.out else 0)
    A.check_memory(
        frames * panels * args.size * args.size * 3 * 2 + args.size * args.size * 4 * 8,
        f"Noising a {args.size}x{args.size} image into {frames} frames",
        "lower --size or --frames",
    )
