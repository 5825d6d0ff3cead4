"""What an export writes, chosen from the view on screen (no Qt: the job runs on a worker thread; moved here from
``app/exporting.py``, which re-exports these names).

An :class:`ExportSource` lists the frames of the current view in timeline order (t descending, the clean end last):
the recorded steps of a run, or the forward process of the loaded picture (computed frame by frame on the worker,
with its own copy of the noise, so the window's scrubbing buffers are never shared).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from diffusion_studio.core.cancel import CancelToken
from diffusion_studio.core.schedules import Schedule
from diffusion_studio.io.gif import (
    ExportSummary,
    GifOptions,
    export_contact_sheet,
    export_gif,
    frame_delay_ms,
    select_indices,
)
from diffusion_studio.io.layout import make_layout
from diffusion_studio.session.forward_view import ForwardProcess
from diffusion_studio.session.frames import StepFrames

GIF_BYTES_PER_PIXEL = 0.8  # rough: noisy frames barely compress, late ones do (a deliberately high guess)


@dataclass(frozen=True)
class ExportSource:
    """Frames of one view: ``ts`` in timeline order and a function giving the three panels at a position."""

    kind: str  # "reverse" or "forward"
    ts: list[int]
    pane_names: tuple[str, str, str]
    panels_at: Callable[[int], tuple[np.ndarray, np.ndarray, np.ndarray]] = field(repr=False)

    def label(self, i: int) -> str:
        t = self.ts[i]
        if t >= 0:
            return f"t = {t}"
        return "x₀ (final)" if self.kind == "reverse" else "x₀ (clean)"

    def frame(self, i: int, panes: tuple[int, ...]) -> tuple[np.ndarray, ...]:
        panels = self.panels_at(i)
        return tuple(panels[p] for p in panes)


def reverse_source(frames: list[StepFrames]) -> ExportSource:
    """The recorded frames of a run (the list is copied; the arrays are never modified, so they are shared)."""
    frames = list(frames)
    return ExportSource("reverse", [f.t for f in frames], ("xₜ", "predicted x₀", "predicted ε"),
                        lambda i: (frames[i].x_t, frames[i].x0, frames[i].eps))


def forward_source(image: np.ndarray, schedule: Schedule, seed: int) -> ExportSource:
    """The closed-form forward process x_t for t = T-1..0 and the clean picture, with the window's noise seed."""
    process = ForwardProcess(image, schedule, seed)
    ts = list(range(schedule.T - 1, -2, -1))
    return ExportSource("forward", ts, ("xₜ", "x₀", "ε (the fixed noise)"),
                        lambda i: (process.x_t(ts[i]), process.image, process.eps_uint8))


@dataclass(frozen=True)
class ExportRequest:
    """Everything the dialog chose. ``t_from`` >= ``t_to`` bound the range on the timeline."""

    path: Path
    kind: str = "gif"  # "gif" or "sheet"
    t_from: int = 10**9
    t_to: int = -1
    panes: tuple[int, ...] = (0, 1, 2)
    stride: int | None = None
    frame_count: int | None = 100
    options: GifOptions = GifOptions()
    columns: int | None = None


def chosen_positions(source: ExportSource, req: ExportRequest) -> list[int]:
    """Positions of the frames to write: inside the range, thinned by stride or count."""
    inside = [i for i, t in enumerate(source.ts) if req.t_to <= t <= req.t_from]
    if not inside:
        return []
    keep = select_indices(len(inside), req.stride, req.frame_count)
    return [inside[k] for k in keep]


def estimate(source: ExportSource, req: ExportRequest) -> tuple[int, tuple[int, int], int, float]:
    """(frames in the file, (width, height), rough bytes, seconds of one play) before anything is written."""
    positions = chosen_positions(source, req)
    if not positions or not req.panes:
        return 0, (0, 0), 0, 0.0
    labels = [source.label(positions[0]), "x₀ (final)", "t = 0000"] if req.options.label else None
    sample = source.frame(positions[0], req.panes)
    layout = make_layout([sample] * (3 if labels else 1), labels, req.options.scale)
    width, height = layout.size
    if req.kind == "sheet":
        cols = min(len(positions), req.columns or int(np.ceil(np.sqrt(len(positions)))))
        rows = int(np.ceil(len(positions) / cols))
        return len(positions), (cols * (width + 4) + 4, rows * (height + 4) + 4), cols * rows * width * height, 0.0
    frames = len(positions) * 2 - 1 if req.options.direction == "both" else len(positions)
    seconds = (frames * frame_delay_ms(req.options.fps) + req.options.hold_last_ms) / 1000.0
    return frames, (width, height), int(frames * width * height * GIF_BYTES_PER_PIXEL), seconds


def run_export(source: ExportSource, req: ExportRequest, cancel: CancelToken) -> Iterator[ExportSummary | Path]:
    """Gather the chosen frames and write them atomically; yields the summary (GIF) or the path (sheet)."""
    positions = chosen_positions(source, req)
    frames = []
    for i in positions:
        if cancel.cancelled:
            return
        frames.append(source.frame(i, req.panes))
    labels = [source.label(i) for i in positions]
    if req.kind == "sheet":
        yield export_contact_sheet(req.path, frames, labels if req.options.label else None, req.columns,
                                   req.options.scale)
        return
    options = replace(req.options, stride=None, frame_count=None)  # the thinning is done above
    yield export_gif(req.path, frames, labels, options)
