"""What an export writes, chosen from the view on screen (no Qt: the job runs on a worker thread; moved here from
``app/exporting.py``, which re-exports these names).

An :class:`ExportSource` lists the frames of the current view in timeline order (t descending, the clean end last):
the recorded steps of a run, or the forward process of the loaded picture (computed frame by frame on the worker,
with its own copy of the noise, so the window's scrubbing buffers are never shared).

Frames are spaced evenly in log-SNR by default, log(ᾱ_t / (1 − ᾱ_t)): evenly in t, most frames of a linear
schedule are pure noise, while the picture forms in a short stretch near the end. Even in how much the predicted
x̂₀ changes (a run only) and even in t are the other choices.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from PIL import Image

from diffusion_studio.core.cancel import CancelToken
from diffusion_studio.core.schedules import Schedule
from diffusion_studio.io.gif import (
    CELL_GAP,
    ExportSummary,
    GifOptions,
    contact_sheet_image,
    export_contact_sheet,
    export_gif,
    frame_delay_ms,
    gif_cost,
    play_order,
    select_indices,
)
from diffusion_studio.io.layout import Layout, compose, make_layout
from diffusion_studio.paths import resources_dir
from diffusion_studio.session.forward_view import ForwardProcess
from diffusion_studio.session.frames import StepFrames
from diffusion_studio.session.third_pane import TEXTS, ThirdPane, pane_picture

SPACINGS = {  # value -> what the dialog says
    "log-snr": "even in log-SNR (default)",
    "x0": "even in how much x̂₀ changes",
    "t": "even in t",
}
ESTIMATE_RUNS = 6  # runs of three neighbouring frames encoded to estimate a GIF's size


@dataclass(frozen=True)
class ExportSource:
    """Frames of one view: ``ts`` in timeline order and a function giving the three panels at a position."""

    kind: str  # "reverse" or "forward"
    ts: list[int]
    pane_names: tuple[str, str, str]
    panels_at: Callable[[int], tuple[np.ndarray, np.ndarray, np.ndarray]] = field(repr=False)
    schedule: Schedule | None = field(default=None, repr=False, compare=False)
    note: str = ""  # one line naming the run (model, class, guidance, sampler, steps, seed) or the picture

    def label(self, i: int) -> str:
        t = self.ts[i]
        if t >= 0:
            return f"t = {t}"
        return "x₀ (final)" if self.kind == "reverse" else "x₀ (clean)"

    def frame(self, i: int, panes: tuple[int, ...]) -> tuple[np.ndarray, ...]:
        panels = self.panels_at(i)
        return tuple(panels[p] for p in panes)


def reverse_source(frames: list[StepFrames], schedule: Schedule | None = None, note: str = "",
                   third: str = "eps") -> ExportSource:
    """The recorded frames of a run (the list is copied; the arrays are never modified, so they are shared).

    ``third``: what the third pane shows, as in the window: eps, or v-hat / the flow velocity derived from each
    frame (:mod:`diffusion_studio.session.third_pane`).
    """
    frames, kind = list(frames), ThirdPane.parse(third)
    name = "predicted ε̂" if kind is ThirdPane.EPS else TEXTS[kind].title

    def panels_at(i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        f = frames[i]
        abar = None if schedule is None or f.t < 0 else float(schedule.alpha_bars[f.t])  # frames without their own
        return f.x_t, f.x0, (f.eps if kind is ThirdPane.EPS else pane_picture(f, kind, abar))

    return ExportSource("reverse", [f.t for f in frames], ("xₜ", "predicted x̂₀", name), panels_at, schedule, note)


def forward_source(image: np.ndarray, schedule: Schedule, seed: int, note: str = "") -> ExportSource:
    """The closed-form forward process x_t for t = T-1..0 and the clean picture, with the window's noise seed."""
    process = ForwardProcess(image, schedule, seed)
    ts = list(range(schedule.T - 1, -2, -1))
    return ExportSource("forward", ts, ("xₜ", "x₀", "ε (the fixed noise)"),
                        lambda i: (process.x_t(ts[i]), process.image, process.eps_uint8), schedule, note)


SAMPLER_TITLES = {"ddpm": "DDPM", "ddim": "DDIM", "euler": "Euler", "heun": "Heun", "dpmpp_2m": "DPM-Solver++(2M)"}


def run_note(model: str, class_name: str | None, cfg_scale: float, classifier_scale: float, sampler: str,
             steps: int, seed: int, eta: float | None = None) -> str:
    """The caption line naming a run, e.g. 'digits · class 7 · guidance s = 3 · DDIM, 50 steps, η = 0 · seed 2'."""
    parts = [model, f"class {class_name}" if class_name is not None else "unconditional"]
    if class_name is not None:
        guidance = f"guidance s = {cfg_scale:g}"
        if classifier_scale:
            guidance += f", classifier s = {classifier_scale:g}"
        parts.append(guidance)
    name = SAMPLER_TITLES.get(sampler, sampler) + (f", η = {eta:g}" if sampler == "ddim" and eta is not None else "")
    parts += [f"{name}, {steps} steps", f"seed {seed}"]
    return " · ".join(parts)


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
    spacing: str = "log-snr"  # see SPACINGS; applies when thinning by frame count
    titles: bool = True  # name each pane above it


def progress_values(source: ExportSource, inside: list[int], spacing: str) -> np.ndarray | None:
    """A rising value per position for ``spacing`` (None: space evenly in position, i.e. in t)."""
    if spacing == "log-snr" and source.schedule is not None:
        lam = np.asarray(source.schedule.log_snr, dtype=np.float64)
        ts = np.asarray([source.ts[i] for i in inside])
        top = lam[0] + (lam[0] - lam[1]) if len(lam) > 1 else lam[0] + 1.0  # the clean end, one step past t = 0
        return np.where(ts >= 0, lam[np.clip(ts, 0, None)], top)
    if spacing == "x0" and source.kind == "reverse":
        x0 = [source.panels_at(i)[1].astype(np.int16) for i in inside]
        change = [float(np.abs(b - a).mean()) for a, b in zip(x0, x0[1:], strict=False)]
        steps = np.asarray(change) + 1e-3 * (max(change, default=0.0) + 1.0)  # a flat stretch still advances
        return np.concatenate(([0.0], np.cumsum(steps)))
    return None


def select_even(values: np.ndarray, count: int) -> list[int]:
    """``count`` indices (first and last included, ascending, distinct) whose values are as evenly spaced as
    possible between the first and the last value; ``values`` must rise."""
    n = len(values)
    if count >= n:
        return list(range(n))
    targets = np.linspace(values[0], values[-1], count)
    picked: list[int] = []
    for k, target in enumerate(targets):
        i = int(np.searchsorted(values, target))
        if 0 < i < n and abs(values[i - 1] - target) <= abs(values[i] - target):
            i -= 1
        low = picked[-1] + 1 if picked else 0
        picked.append(min(max(i, low), n - (count - k)))  # leave room for the indices still to come
    return picked


def chosen_positions(source: ExportSource, req: ExportRequest) -> list[int]:
    """Positions of the frames to write: inside the range, thinned by stride or by count (spaced by
    ``req.spacing``)."""
    inside = [i for i, t in enumerate(source.ts) if req.t_to <= t <= req.t_from]
    if not inside:
        return []
    values = None
    if req.stride is None and req.frame_count is not None and req.frame_count < len(inside):
        values = progress_values(source, inside, req.spacing)
    keep = select_indices(len(inside), req.stride, req.frame_count) if values is None else select_even(
        values, max(req.frame_count, 2))
    return [inside[k] for k in keep]


def _layout(source: ExportSource, req: ExportRequest, positions: list[int]) -> tuple[Layout, list[str] | None]:
    labels = [source.label(i) for i in positions] if req.options.label else None
    titles = [source.pane_names[p] for p in req.panes] if req.titles else None
    note = source.note if req.options.label and source.note else None
    sample = source.frame(positions[0], req.panes)
    return make_layout([sample] * len(positions), labels, req.options.scale, titles, note), labels


def estimate(source: ExportSource, req: ExportRequest) -> tuple[int, tuple[int, int], int, float]:
    """(frames in the file, (width, height), bytes, seconds of one play) before anything is written.

    The bytes come from encoding a few frames the way the export will (GIF: runs of neighbouring frames with
    one palette; sheet: its first and last rows as PNG), so the estimate follows how well these pictures
    compress.
    """
    positions = chosen_positions(source, req)
    if not positions or not req.panes:
        return 0, (0, 0), 0, 0.0
    layout, labels = _layout(source, req, positions)
    width, height = layout.size

    def picture(k: int) -> Image.Image:
        return compose(source.frame(positions[k], req.panes), labels[k] if labels else None, layout)

    if req.kind == "sheet":
        cols = min(len(positions), req.columns or int(np.ceil(np.sqrt(len(positions)))))
        rows = int(np.ceil(len(positions) / cols))
        size = (cols * (width + CELL_GAP) + CELL_GAP, rows * (height + CELL_GAP) + CELL_GAP)
        titles = [source.pane_names[p] for p in req.panes] if req.titles else None
        note = source.note if req.options.label and source.note else None
        row_bytes = []
        for row in sorted({0, rows - 1}):  # the first and the last row of the sheet, encoded as the file will be
            ks = range(row * cols, min((row + 1) * cols, len(positions)))
            strip = contact_sheet_image([source.frame(positions[k], req.panes) for k in ks],
                                        [labels[k] for k in ks] if labels else None, cols, req.options.scale,
                                        titles, note)
            row_bytes.append(_png_bytes(strip) * cols / len(ks))
        return len(positions), size, int(np.mean(row_bytes) * rows), 0.0
    order = play_order(range(len(positions)), req.options.direction)
    frames = len(order)
    seconds = (frames * frame_delay_ms(req.options.fps) + req.options.hold_last_ms) / 1000.0
    if frames < 3:
        two = [picture(order[0]), picture(order[-1])]
        first_two, _ = gif_cost([(*two, two[-1])])
        return frames, (width, height), first_two, seconds
    starts = sorted(set(select_indices(frames - 2, frame_count=min(ESTIMATE_RUNS, frames - 2))))
    first_two, per_frame = gif_cost([tuple(picture(order[j + d]) for d in range(3)) for j in starts])
    return frames, (width, height), int(first_two + per_frame * (frames - 2)), seconds


def _png_bytes(image: Image.Image) -> int:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False)
    return buffer.tell()


@dataclass
class ExportOutcome:
    """What :func:`run_export` wrote, set on the worker thread the moment the file is in place. The window reads it
    after the thread has ended, so a file written while the window was closing (a cancel arriving during the
    atomic write, which always completes) is reported as written, never as cancelled."""

    written: ExportSummary | Path | None = None


def run_export(
    source: ExportSource, req: ExportRequest, cancel: CancelToken, outcome: ExportOutcome | None = None
) -> Iterator[ExportSummary | Path]:
    """Gather the chosen frames and write them atomically; yields the summary (GIF) or the path (sheet).

    A cancel before the write leaves any old file as it was; once the write has begun it completes."""
    outcome = outcome if outcome is not None else ExportOutcome()
    positions = chosen_positions(source, req)
    frames = []
    for i in positions:
        if cancel.cancelled:
            return
        frames.append(source.frame(i, req.panes))
    labels = [source.label(i) for i in positions]
    titles = [source.pane_names[p] for p in req.panes] if req.titles else None
    note = source.note or None
    if req.kind == "sheet":
        outcome.written = export_contact_sheet(req.path, frames, labels if req.options.label else None,
                                               req.columns, req.options.scale, titles,
                                               note if req.options.label else None)
        yield outcome.written
        return
    options = replace(req.options, stride=None, frame_count=None)  # the thinning is done above
    outcome.written = export_gif(req.path, frames, labels, options, titles, note)
    yield outcome.written


def file_stem(*parts: object) -> str:
    """A file name stem from parts: lower case, words joined by '-', nothing a file system dislikes."""
    words = re.findall(r"[a-z0-9]+", "-".join(str(p) for p in parts if p not in (None, "")).lower())
    return "-".join(words) or "diffusion"


def default_export_path(last_folder: str | None, stem: str, suffix: str) -> Path:
    """``stem + suffix`` in the last export folder, else the Pictures folder (else home); never inside the
    installed package, where a file would be lost on the next upgrade."""
    candidates = [Path(last_folder).expanduser()] if last_folder else []
    candidates += [Path.home() / "Pictures", Path.home()]
    package = Path(__file__).resolve().parent.parent
    for folder in candidates:
        try:
            resolved = folder.resolve()
        except OSError:
            continue
        inside = resolved == package or package in resolved.parents or resolved == resources_dir().resolve() or \
            resources_dir().resolve() in resolved.parents
        if folder.is_dir() and not inside:
            return folder / f"{stem}{suffix}"
    return Path.home() / f"{stem}{suffix}"
