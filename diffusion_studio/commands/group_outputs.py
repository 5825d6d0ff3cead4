"""What ``compare`` and ``sample --seeds/--branch-at/--filmstrip`` share: the request, progress, costs, exports."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from diffusion_studio.core.plan import SamplingPlan
from diffusion_studio.io.gif import GifOptions
from diffusion_studio.session.compare import Progress, RunGroup
from diffusion_studio.session.exports import GroupExport, export_group_gif, export_group_png
from diffusion_studio.session.request import RunRequest
from diffusion_studio.session.run import RecordedStep

CELL_PX = 160  # default upscale: about this many pixels per picture


def request_from_args(args: argparse.Namespace) -> RunRequest:
    """The sample command's options as a request (the same defaults as ``sample``)."""
    from diffusion_studio.models.diffusers_defaults import model_sampler_defaults

    strength = args.strength if args.strength is not None else (0.6 if args.init is not None else None)
    chosen = model_sampler_defaults(args)  # a diffusers folder's scheduler config fills what was not given
    plan = SamplingPlan(sampler=chosen.sampler, steps=chosen.steps, eta=args.eta, spacing=chosen.spacing,
                        variance=chosen.variance, clip_x0=chosen.clip_x0, seed=args.seed, batch=args.batch,
                        strength=strength, churn=args.churn, guidance_interval=args.guidance_interval,
                        **chosen.plan_settings())
    return RunRequest(model=args.model, schedule=args.schedule, T=args.T, size=args.size, init_image=args.init,
                      class_label=args.class_label, cfg_scale=args.guidance,
                      classifier_scale=args.classifier_scale, plan=plan, device=args.device)


def progress_bars(args: argparse.Namespace) -> Progress | None:
    """One progress bar per run on stderr (none with --quiet)."""
    if args.quiet:
        return None
    from diffusion_studio.commands.progress import ProgressBar

    def make(i: int, total: int, label: str) -> tuple[Callable[[RecordedStep], None], Callable[[], None]]:
        bar = ProgressBar(total, f"{i + 1}: {label}")
        done = [0]

        def on_step(step: RecordedStep) -> None:
            done[0] += 1
            bar.update(done[0], f"t={step.t:4d}")

        return on_step, bar.close

    return make


def scale_for(args: argparse.Namespace, side: int) -> int:
    return args.scale if args.scale is not None else max(1, CELL_PX // max(side, 1))


def print_costs(group: RunGroup) -> None:
    """One line per run: its label, its steps and the model calls it made (a branch counts only its own)."""
    width = max(len(r.label) for r in group.runs)
    print(f"{'run':<{width}}  steps  model calls")
    for run in group.runs:
        if run.notice:
            print(f"{run.label}: {run.notice}", file=sys.stderr)
        print(f"{run.label:<{width}}  {len(run.timesteps) - run.own_from:5d}  {run.model_calls:11d}")


def write_group(args: argparse.Namespace, group: RunGroup, spec: GroupExport, png_rows: int) -> None:
    """--gif: the group on one playhead; --png: the labelled grid; --sheet: a grid of steps (rows) x runs."""
    opts = GifOptions(fps=args.fps, hold_last_ms=args.hold)
    if args.gif is not None:
        summary = export_group_gif(args.gif, group, spec, max(args.frames, 2), opts)
        print(f"wrote {summary.path} ({summary.frames} frames, {summary.bytes / 1e6:.2f} MB)", file=sys.stderr)
    if args.png is not None:
        export_group_png(args.png, group, spec, png_rows)
        print(f"wrote {args.png}", file=sys.stderr)
    if args.sheet is not None:
        export_group_png(args.sheet, group, spec, rows=6 if png_rows == 1 else 1)
        print(f"wrote {args.sheet}", file=sys.stderr)


def panels_of(args: argparse.Namespace) -> tuple[str, ...]:
    """The --panels names (already a tuple when the option's type parsed them)."""
    if isinstance(args.panels, str):
        return tuple(p.strip() for p in args.panels.split(",") if p.strip())
    return tuple(args.panels)


def check_outputs(args: argparse.Namespace, names: tuple[str, ...]) -> None:
    """Refuse before any work when no output was asked for."""
    from diffusion_studio.errors import OptionError

    if all(getattr(args, n, None) is None for n in names):
        flags = ", ".join(f"--{n}" for n in names)
        raise OptionError(f"Nothing would be written; give at least one of {flags}.")


def out_path(value: Path | None) -> Path | None:
    return None if value is None else Path(value)
