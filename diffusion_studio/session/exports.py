"""Labelled GIF and PNG grid of a group of runs (a comparison, a seed grid, branches), through io.gif / io.layout.

A GIF frame holds one cell per run at the same playhead position, each cell its panels with the run's label
drawn under them (what differs), and the frame's caption says where the playhead is. The PNG grid has one row
per chosen position and one column per run (or, for a seed grid, the finished pictures in rows of ``columns``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from diffusion_studio.errors import OptionError
from diffusion_studio.io.frames import DERIVED_PANELS
from diffusion_studio.io.gif import ExportSummary, GifOptions, export_contact_sheet, export_gif, select_indices
from diffusion_studio.io.layout import BACKGROUND, GAP, compose, make_layout
from diffusion_studio.session.compare import RunGroup, difference_map
from diffusion_studio.session.run import FINAL_T, RecordedStep
from diffusion_studio.session.third_pane import pane_picture

GROUP_PANELS = ("x_t", "x0", "eps", "v", "flow", "diff")  # diff: |x0-hat - the reference run's x0-hat|
ExtraPanel = Callable[[int], np.ndarray]  # playhead t -> an (H, W, 3) uint8 picture shown after the runs


@dataclass(frozen=True)
class GroupExport:
    """What to draw: which panels per run, how many across, and any extra cells (e.g. a spread map)."""

    panels: tuple[str, ...] = ("x_t",)
    columns: int | None = None  # runs per row (None: all in one row)
    scale: int = 1
    extras: tuple[tuple[str, ExtraPanel], ...] = ()

    def check(self) -> None:
        unknown = [p for p in self.panels if p not in GROUP_PANELS]
        if unknown or not self.panels:
            raise OptionError(f"Panels must be chosen from {', '.join(GROUP_PANELS)}; got '{','.join(self.panels)}'.")


def _rgb(picture: np.ndarray) -> np.ndarray:
    return np.repeat(picture, 3, axis=2) if picture.shape[2] == 1 else picture


def run_panels(frame: RecordedStep, ref: RecordedStep | None, panels: Sequence[str]) -> list[np.ndarray]:
    """The chosen panels of one run's frame, all RGB so that grey and colour cells line up."""
    out = []
    for name in panels:
        if name == "diff":
            base = frame.x0 if ref is None else ref.x0
            out.append(difference_map(frame.x0, base))
        elif name in DERIVED_PANELS:  # v-hat / flow velocity from the run's x0 and eps pictures
            out.append(_rgb(pane_picture(frame, name)))
        else:
            out.append(_rgb({"x_t": frame.x_t, "x0": frame.x0, "eps": frame.eps}[name]))
    return out


def caption(t: int) -> str:
    return "finished picture" if t == FINAL_T else f"t = {t}"


Cell = tuple[list[np.ndarray], str, int]  # panels, label, the t the pictures are from


def _cells(group: RunGroup, t: int, spec: GroupExport) -> list[Cell]:
    frames = group.frames_at(t)
    ref = frames[group.reference]
    cells = []
    for run, frame in zip(group.runs, frames, strict=True):
        if frame is None:
            raise OptionError(f"The run '{run.label}' has no recorded steps to export.")
        cells.append((run_panels(frame, ref, spec.panels), run.label, frame.t))
    for name, make in spec.extras:  # one picture, padded with blank panels to the runs' panel count
        picture = make(t)
        blank = np.full_like(picture, 255)
        cells.append(([picture] + [blank] * (len(spec.panels) - 1), name, t))
    return cells


def _labels(cells: list[Cell], t: int) -> list[str]:
    """A run whose nearest step is not at the playhead's t says which t it shows."""
    return [name if shown == t else f"{name} ({caption(shown)})" for _, name, shown in cells]


def _grid(images: list[np.ndarray], columns: int | None) -> np.ndarray:
    """Equal-sized cell pictures laid out in rows of ``columns`` with io.layout's gap and background."""
    cols = min(len(images), columns or len(images))
    rows = math.ceil(len(images) / cols)
    h, w = images[0].shape[:2]
    out = np.empty((rows * h + (rows - 1) * GAP, cols * w + (cols - 1) * GAP, 3), np.uint8)
    out[:] = BACKGROUND
    for k, image in enumerate(images):
        r, c = divmod(k, cols)
        out[r * (h + GAP): r * (h + GAP) + h, c * (w + GAP): c * (w + GAP) + w] = image
    return out


def group_frames(group: RunGroup, ts: Sequence[int], spec: GroupExport) -> list[np.ndarray]:
    """One picture per playhead position: every run's panels, labelled by run (one layout for all, so every
    picture has the same size)."""
    spec.check()
    per_t = [(_cells(group, t, spec), t) for t in ts]
    cells = [cell for row, _ in per_t for cell in row]
    labels = [label for row, t in per_t for label in _labels(row, t)]
    layout = make_layout([tuple(p) for p, _, _ in cells], labels, spec.scale)
    images = [np.asarray(compose(tuple(p), label, layout)) for (p, _, _), label in zip(cells, labels, strict=True)]
    n = len(images) // max(len(ts), 1)
    return [_grid(images[k * n:(k + 1) * n], spec.columns) for k in range(len(ts))]


def group_frame(group: RunGroup, t: int, spec: GroupExport) -> np.ndarray:
    """One picture of every run at playhead position ``t``, labelled by run."""
    return group_frames(group, [t], spec)[0]


def positions(group: RunGroup, count: int) -> list[int]:
    """About ``count`` playhead positions, evenly spaced, the first and the finished picture included."""
    axis = group.playhead()
    return [axis[i] for i in select_indices(len(axis), frame_count=min(max(count, 2), len(axis)))]


def export_group_gif(path: str | os.PathLike[str], group: RunGroup, spec: GroupExport, frame_count: int = 100,
                     options: GifOptions | None = None) -> ExportSummary:
    """The group as one animated GIF: every run side by side (or in a grid), one playhead, labelled."""
    ts = positions(group, frame_count)
    frames = group_frames(group, ts, spec)
    base = options or GifOptions()
    opts = GifOptions(fps=base.fps, scale=1, loop=base.loop, hold_last_ms=base.hold_last_ms, label=True)
    return export_gif(path, frames, [caption(t) for t in ts], opts)


def export_group_png(path: str | os.PathLike[str], group: RunGroup, spec: GroupExport, rows: int = 6) -> Path:
    """A PNG grid: one row per playhead position (the finished picture last), one labelled column per run.

    With ``rows`` = 1 only the finished pictures are drawn, in rows of ``spec.columns`` (a seed grid).
    """
    spec.check()
    ts = [FINAL_T] if rows <= 1 else positions(group, rows)
    frames, labels = [], []
    for t in ts:
        for panels, name, shown in _cells(group, t, spec):
            frames.append(tuple(panels))
            labels.append(name if rows <= 1 else f"{name}, {caption(shown)}")
    per_row = len(group.runs) + len(spec.extras)
    columns = (spec.columns or per_row) if rows <= 1 else per_row
    return export_contact_sheet(path, frames, labels, columns=columns, scale=spec.scale)
