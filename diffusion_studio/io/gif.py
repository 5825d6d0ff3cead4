"""Export a run of denoising steps as an animated GIF, or chosen steps as a PNG contact sheet.

GIF notes that shape the output:
- One global 255-colour palette (median cut over a sample of frames) is shared by every frame, so there are
  no per-frame colour tables and no palette flicker; the 256th index stays free so Pillow's ``optimize`` can
  mark unchanged pixels transparent (with ``disposal=1``), which shrinks the late, nearly still frames.
- GIF delays are stored in hundredths of a second, so a frame lasts ``round(100 / fps) * 10`` ms, and at
  least 20 ms: browsers play shorter delays at 100 ms, so any fps above 50 plays at 50.
- Identical consecutive frames (after quantisation) are merged here, adding their durations, exactly as
  Pillow would; so the file holds ``ExportSummary.frames`` frames and the total play time is preserved.
- ``loop=0`` loops forever; ``loop=None`` writes no NETSCAPE loop block, so viewers play it once;
  ``loop=n`` asks for n repeats after the first play (how browsers read the count).
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, ImageDraw

from diffusion_studio.errors import OptionError
from diffusion_studio.io.atomic import atomic_target
from diffusion_studio.io.layout import BACKGROUND, GAP, Frame, compose, make_layout

Direction = Literal["denoise", "noise", "both"]
PALETTE_COLOURS = 255  # one index left free for Pillow's "unchanged pixel" transparency
PALETTE_SAMPLES = 16  # frames (evenly spaced, first and last included) stacked to build the palette
PALETTE_PIXELS = 1 << 14  # their pixels are subsampled to about this many (the palette cost is O(pixels))
PALETTE_KMEANS = 1  # one k-means pass after median cut: much closer colours for ~0.15 s
MAX_FPS = 100.0
CELL_GAP = 3 * GAP  # between the steps of a contact sheet
CELL_FRAME = (200, 200, 200)
MIN_DELAY_MS = 20


@dataclass(frozen=True)
class GifOptions:
    """How to turn a list of steps into a GIF (see the module notes for timing and looping)."""

    fps: float = 20.0
    stride: int | None = None  # keep every stride-th frame (and always the last)
    frame_count: int | None = None  # or: about this many frames, evenly spaced, first and last included
    scale: int = 1  # whole-number nearest-neighbour upscale, applied before the labels are drawn
    loop: int | None = 0  # 0 = forever, None = play once
    hold_last_ms: int = 1500  # extra time on the last frame of the GIF
    label: bool = True
    direction: Direction = "denoise"  # "denoise": as given; "noise": reversed; "both": there and back

    def check(self) -> None:
        """Raise :class:`OptionError` with one sentence if a value cannot be used."""
        if not 0 < self.fps <= MAX_FPS:
            raise OptionError(f"The frame rate must be above 0 and at most {MAX_FPS:g} fps, not {self.fps}.")
        if self.loop is not None and not 0 <= self.loop <= 65535:
            raise OptionError(f"The loop count must be from 0 (forever) to 65535, not {self.loop}.")
        if self.hold_last_ms < 0:
            raise OptionError(f"The hold on the last frame cannot be negative ({self.hold_last_ms} ms).")
        if self.direction not in ("denoise", "noise", "both"):
            raise OptionError(f"The direction must be 'denoise', 'noise' or 'both', not {self.direction!r}.")
        select_indices(1, self.stride, self.frame_count)  # checks stride and frame_count


@dataclass(frozen=True)
class ExportSummary:
    """What was written: frames in the file, its size in bytes, and one play-through in seconds."""

    path: Path
    frames: int
    bytes: int
    seconds: float


def select_indices(n: int, stride: int | None = None, frame_count: int | None = None) -> list[int]:
    """Indices of the frames to keep out of ``n``, ascending, always including the first and the last.

    ``stride`` keeps 0, stride, 2*stride, ... plus n-1; ``frame_count`` keeps that many evenly spaced
    frames (all of them when it is at least ``n``); neither keeps everything.
    """
    if stride is not None and frame_count is not None:
        raise OptionError("Choose frames by stride or by frame count, not both.")
    if stride is not None and stride < 1:
        raise OptionError(f"The frame stride must be at least 1, not {stride}.")
    if n < 1:
        raise OptionError("There are no frames to export.")
    if frame_count is not None and frame_count < min(2, n):  # 1 is fine when there is only one frame
        raise OptionError(f"The frame count must be at least 2 (first and last), not {frame_count}.")
    if stride is not None:
        kept = list(range(0, n, stride))
        return kept if kept[-1] == n - 1 else [*kept, n - 1]
    if frame_count is None or frame_count >= n:
        return list(range(n))
    step = (n - 1) / (frame_count - 1)  # >= 1, so rounding never repeats an index
    return [math.floor(i * step + 0.5) for i in range(frame_count)]


def play_order(indices: Sequence[int], direction: Direction) -> list[int]:
    """Apply the direction: "noise" reverses, "both" goes there and back without repeating the turn."""
    forward = list(indices)
    if direction == "noise":
        return forward[::-1]
    if direction == "both":
        return forward + forward[-2::-1]
    return forward


def frame_delay_ms(fps: float) -> int:
    """The per-frame delay GIF can store for ``fps`` (whole centiseconds, at least 20 ms)."""
    return max(MIN_DELAY_MS, round(100.0 / fps) * 10)


def export_gif(
    path: str | os.PathLike[str],
    frames: Sequence[Frame],
    labels: Sequence[str] | None = None,
    options: GifOptions | None = None,
    titles: Sequence[str] | None = None,
    note: str | None = None,
) -> ExportSummary:
    """Write ``frames`` (denoising order, one per step) as an animated GIF, atomically.

    Each frame is an (H, W, 3) / (H, W) uint8 array or a tuple of panels laid side by side; ``labels``
    (e.g. "t = 734") are drawn in a caption strip under the panels when ``options.label`` is set, with ``note``
    (the run's settings) as a second line; ``titles`` name the panels above them.
    """
    options = options or GifOptions()
    options.check()
    shown = labels if options.label else None
    layout = make_layout(frames, shown, options.scale, titles, note if options.label else None)
    keep = select_indices(len(frames), options.stride, options.frame_count)

    def draw(i: int) -> Image.Image:
        return compose(frames[i], shown[i] if shown else None, layout)

    samples = select_indices(len(keep), frame_count=PALETTE_SAMPLES)
    palette = _global_palette([draw(keep[k]) for k in samples])
    # Quantise as we draw, so only the 1-byte-per-pixel frames are held in memory.
    indexed = [draw(i).quantize(palette=palette, dither=Image.Dither.NONE) for i in keep]
    order = play_order(range(len(keep)), options.direction)
    sequence, durations = _merge_repeats([indexed[k] for k in order], frame_delay_ms(options.fps))
    durations[-1] = _centiseconds(durations[-1] + options.hold_last_ms)

    extra = {} if options.loop is None else {"loop": options.loop}
    with atomic_target(path) as tmp:
        sequence[0].save(
            tmp,
            format="GIF",
            save_all=True,
            append_images=sequence[1:],
            duration=durations,
            disposal=1,
            optimize=True,
            palette=palette.getpalette(),
            **extra,
        )
    target = Path(path)
    return ExportSummary(target, len(sequence), target.stat().st_size, sum(durations) / 1000.0)


def export_contact_sheet(
    path: str | os.PathLike[str],
    frames: Sequence[Frame],
    labels: Sequence[str] | None = None,
    columns: int | None = None,
    scale: int = 1,
    titles: Sequence[str] | None = None,
    note: str | None = None,
) -> Path:
    """Write the steps as a PNG grid, row by row, ``columns`` wide (default near-square), atomically.

    Steps are ``CELL_GAP`` apart (three times the gap between one step's panes) and each sits in a thin grey
    frame, so one step's panes read as a group. ``titles`` name the panes; ``note`` goes under every label."""
    sheet = contact_sheet_image(frames, labels, columns, scale, titles, note)
    with atomic_target(path) as tmp:
        sheet.save(tmp, format="PNG", optimize=False)
    return Path(path)


def gif_cost(triples: Sequence[tuple[Image.Image, Image.Image, Image.Image]]) -> tuple[int, float]:
    """Encode sampled runs of three consecutive frames as :func:`export_gif` would (one shared palette,
    ``optimize``, ``disposal=1``) and return (bytes of a GIF of the first two frames, mean bytes one more
    frame adds).

    A frame's cost depends on the frame before it (unchanged pixels are nearly free), and Pillow writes a lone
    frame differently from a sequence, so the cost of a frame is measured as the growth from two frames to
    three; a size estimate is then ``first_two + (frames - 2) * per_frame``.
    """
    palette = _global_palette([im for run in triples for im in run])

    def size(images: Sequence[Image.Image]) -> int:
        indexed = [im.quantize(palette=palette, dither=Image.Dither.NONE) for im in images]
        buffer = io.BytesIO()
        indexed[0].save(buffer, format="GIF", save_all=True, append_images=indexed[1:], duration=50, disposal=1,
                        optimize=True, palette=palette.getpalette(), loop=0)
        return buffer.tell()

    extra = [size(run) - size(run[:2]) for run in triples]
    return size(triples[0][:2]), float(np.mean(extra))


def contact_sheet_image(
    frames: Sequence[Frame],
    labels: Sequence[str] | None = None,
    columns: int | None = None,
    scale: int = 1,
    titles: Sequence[str] | None = None,
    note: str | None = None,
) -> Image.Image:
    """The contact sheet as a picture (see :func:`export_contact_sheet`)."""
    if columns is not None and columns < 1:
        raise OptionError(f"The contact sheet needs at least 1 column, not {columns}.")
    layout = make_layout(frames, labels, scale, titles, note)
    cols = min(len(frames), columns or math.ceil(math.sqrt(len(frames))))
    rows = math.ceil(len(frames) / cols)
    cell_w, cell_h = layout.size
    sheet = Image.new("RGB", (cols * cell_w + (cols + 1) * CELL_GAP, rows * cell_h + (rows + 1) * CELL_GAP),
                      BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    for k, frame in enumerate(frames):
        row, col = divmod(k, cols)
        tile = compose(frame, labels[k] if labels else None, layout)
        x, y = CELL_GAP + col * (cell_w + CELL_GAP), CELL_GAP + row * (cell_h + CELL_GAP)
        sheet.paste(tile, (x, y))
        draw.rectangle((x - 2, y - 2, x + cell_w + 1, y + cell_h + 1), outline=CELL_FRAME)
    return sheet


def _global_palette(samples: Sequence[Image.Image]) -> Image.Image:
    """A median-cut palette (plus a k-means pass) from sample frames, pixel-subsampled.

    The last sample (the finished image, shown during the hold) fills a third of the sample, so it keeps
    more colours than the noisy frames, where quantisation error is hidden by the noise anyway.
    """
    picks = [*samples, *[samples[-1]] * (len(samples) // 2)]
    stack = np.concatenate([np.asarray(im) for im in picks], axis=0)
    step = math.ceil(math.sqrt(stack.shape[0] * stack.shape[1] / PALETTE_PIXELS))
    sample = Image.fromarray(np.ascontiguousarray(stack[::step, ::step]), "RGB")
    return sample.quantize(PALETTE_COLOURS, method=Image.Quantize.MEDIANCUT, kmeans=PALETTE_KMEANS)


def _merge_repeats(frames: list[Image.Image], delay_ms: int) -> tuple[list[Image.Image], list[int]]:
    """Drop frames identical to the one before, adding their time to it (Pillow would do the same)."""
    kept, durations, previous = [frames[0]], [delay_ms], frames[0].tobytes()
    for im in frames[1:]:
        data = im.tobytes()
        if data == previous:
            durations[-1] += delay_ms
        else:
            kept.append(im)
            durations.append(delay_ms)
            previous = data
    return kept, durations


def _centiseconds(ms: int) -> int:
    return round(ms / 10) * 10
