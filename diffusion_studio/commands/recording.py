"""Record chosen frames of a sampling run (as uint8 panels) and write them as GIF / PNG / contact sheet."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from diffusion_studio.core.plan import run_plan
from diffusion_studio.errors import OptionError
from diffusion_studio.io.atomic import atomic_write
from diffusion_studio.io.frames import PANELS, panel_images
from diffusion_studio.io.gif import GifOptions, export_contact_sheet, export_gif, select_indices
from diffusion_studio.runs import PreparedRun


@dataclass
class Recording:
    frames: list[list[np.ndarray]] = field(default_factory=list)  # per kept frame: its panels
    labels: list[str] = field(default_factory=list)
    final: np.ndarray | None = None
    side: int = 0


def record_run(
    prepared: PreparedRun, panels: tuple[str, ...], frame_count: int, quiet: bool = False
) -> Recording:
    """Run the sampler, keeping about ``frame_count`` evenly spaced frames (the first and the final one)."""
    from diffusion_studio.commands.progress import ProgressBar

    unknown = [p for p in panels if p not in PANELS]
    if unknown or not panels:
        raise OptionError(f"Panels must be chosen from {', '.join(PANELS)}; got '{','.join(panels)}'.")
    total = len(prepared.plan.timesteps(prepared.schedule))
    keep = set(select_indices(total + 1, frame_count=min(frame_count, total + 1)))
    bar = None if quiet else ProgressBar(total, f"{prepared.model.info.name} {prepared.plan.sampler}")
    rec = Recording(side=max(prepared.shape[1:]))
    steps = run_plan(
        prepared.model, prepared.schedule, prepared.plan, prepared.shape, prepared.init, prepared.device
    )
    last = None
    try:
        for step in steps:
            if step.index in keep:
                rec.frames.append(panel_images(step.x_t, step.x0_pred, step.eps_pred, panels))
                rec.labels.append(f"t = {step.t}")
            if bar:
                bar.update(step.index + 1, f"t={step.t:4d}")
            last = step
    finally:
        if bar:
            bar.close()
    assert last is not None  # a plan always has at least one step
    final = panel_images(last.x_prev, last.x_prev, None, ("x_t",))[0]
    final_panels = panel_images(last.x_prev, last.x_prev, last.eps_pred, panels)
    rec.frames.append(final_panels)
    rec.labels.append("x_0 (final)")
    rec.final = final
    return rec


def _auto_scale(side: int) -> int:
    return max(1, 256 // max(side, 1))


def write_outputs(rec: Recording, args: argparse.Namespace) -> None:
    scale = args.scale if args.scale is not None else _auto_scale(rec.side)
    labels = None if args.no_label else rec.labels
    if args.gif is not None:
        opts = GifOptions(fps=args.fps, scale=scale, hold_last_ms=args.hold, label=not args.no_label)
        summary = export_gif(args.gif, rec.frames, labels, opts)
        print(
            f"wrote {summary.path} ({summary.frames} frames, {summary.bytes / 1e6:.2f} MB)", file=sys.stderr
        )
    if args.png is not None:
        final = rec.final.squeeze(-1) if rec.final.shape[-1] == 1 else rec.final
        atomic_write(args.png, lambda tmp: Image.fromarray(final).save(tmp, format="PNG"))
        print(f"wrote {args.png}", file=sys.stderr)
    if args.sheet is not None:
        pick = select_indices(len(rec.frames), frame_count=min(10, len(rec.frames)))
        export_contact_sheet(
            args.sheet,
            [rec.frames[i] for i in pick],
            None if labels is None else [labels[i] for i in pick],
            scale=scale,
        )
        print(f"wrote {args.sheet}", file=sys.stderr)
