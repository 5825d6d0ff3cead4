"""Record chosen frames of a sampling run (as uint8 panels) and write them as GIF / PNG / contact sheet.

The steps come from :func:`diffusion_studio.session.frames.stream_frames`, the same stream the window records
(with its CUDA out-of-memory fallback to the CPU); only the kept frames are ever converted to pictures.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from diffusion_studio.errors import OptionError
from diffusion_studio.io.atomic import atomic_write
from diffusion_studio.io.frames import EXPORT_PANELS, PANELS
from diffusion_studio.io.gif import GifOptions, export_contact_sheet, export_gif, select_indices
from diffusion_studio.session.frames import Notice, StepFrames, stream_frames
from diffusion_studio.session.request import PreparedRun
from diffusion_studio.session.third_pane import TEXTS, ThirdPane, pane_picture


@dataclass
class Recording:
    frames: list[list[np.ndarray]] = field(default_factory=list)  # per kept frame: its panels
    labels: list[str] = field(default_factory=list)
    final: np.ndarray | None = None
    side: int = 0
    notices: list[str] = field(default_factory=list)


def record_run(
    prepared: PreparedRun, panels: tuple[str, ...], frame_count: int, quiet: bool = False
) -> Recording:
    """Run the sampler, keeping about ``frame_count`` evenly spaced frames (the first and the final one)."""
    from diffusion_studio.commands.progress import ProgressBar

    unknown = [p for p in panels if p not in EXPORT_PANELS]
    if unknown or not panels:
        raise OptionError(f"Panels must be chosen from {', '.join(EXPORT_PANELS)}; got '{','.join(panels)}'.")
    total = len(prepared.plan.timesteps(prepared.schedule))
    keep = set(select_indices(total + 1, frame_count=min(frame_count, total + 1)))  # index total: the final
    bar = None if quiet else ProgressBar(total, f"{prepared.model.info.name} {prepared.plan.sampler}")
    rec = Recording(side=max(prepared.shape[1:]))
    try:
        for item in stream_frames(prepared):
            if isinstance(item, Notice):  # e.g. CUDA ran out of memory: the run starts again on the CPU
                if item.restart:
                    rec = Recording(side=rec.side, notices=rec.notices)
                rec.notices.append(item.text)
                print(f"\n{item.text}", file=sys.stderr)
                continue
            if item.index in keep:
                rec.frames.append([panel_picture(item, p) for p in panels])
                rec.labels.append("x₀ (final)" if item.is_final else f"t = {item.t}")
            if item.is_final:
                rec.final = item.x_t
            elif bar:
                bar.update(item.index + 1, f"t={item.t:4d}")
    finally:
        if bar:
            bar.close()
    assert rec.final is not None  # a plan always has at least one step, and the stream ends with the final frame
    return rec


def panel_picture(frame: StepFrames, panel: str) -> np.ndarray:
    """One named panel of a frame: a recorded pane, or v-hat / the flow velocity derived from it."""
    if panel in PANELS:
        return frame.picture(PANELS.index(panel))
    return pane_picture(frame, panel)


def _auto_scale(side: int) -> int:
    return max(1, 256 // max(side, 1))


PANEL_TITLES = {"x_t": "x_t", "x0": "x̂₀ predicted", **{kind.value: TEXTS[kind].title for kind in ThirdPane}}


def run_caption(prepared: PreparedRun) -> str:
    """The caption line naming the run: model, class, guidance, sampler, steps and seed."""
    from diffusion_studio.session.export_plan import run_note

    plan, info = prepared.plan, prepared.model.info
    label = plan.guidance.label
    class_name = None if label is None or label >= len(info.class_names) else info.class_names[label]
    steps = len(plan.timesteps(prepared.schedule))
    return run_note(info.name, class_name, plan.guidance.cfg_scale, plan.guidance.classifier_scale, plan.sampler,
                    steps, plan.seed, plan.eta)


def write_outputs(rec: Recording, args: argparse.Namespace, caption: str | None = None) -> None:
    """GIF / PNG / sheet as asked; with labels on, each pane is titled and ``caption`` names the run."""
    scale = args.scale if args.scale is not None else _auto_scale(rec.side)
    labels = None if args.no_label else rec.labels
    panels = tuple(getattr(args, "panels", ("x_t",)) or ("x_t",))
    titles = None if args.no_label else [PANEL_TITLES.get(p, p) for p in panels]
    note = None if args.no_label else caption
    if args.gif is not None:
        opts = GifOptions(fps=args.fps, scale=scale, hold_last_ms=args.hold, label=not args.no_label)
        summary = export_gif(args.gif, rec.frames, labels, opts, titles, note)
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
            titles=titles,
            note=note,
        )
        print(f"wrote {args.sheet}", file=sys.stderr)
