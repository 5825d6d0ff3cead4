"""Lay out one export frame: pane titles, panels side by side (nearest-upscaled), then a caption strip below
(the step's label, and optionally a fixed line naming the run: model, class, guidance, sampler, steps, seed).

Shared by the GIF and the contact-sheet exporters so both show the same picture for the same step. Text is drawn
with the bundled DejaVu Sans (resources/fonts, Bitstream Vera licence), which has x₀, ε, ᾱ and the other
symbols; Pillow's own default font draws those as empty boxes.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from diffusion_studio.errors import OptionError
from diffusion_studio.paths import resources_dir

Frame = np.ndarray | Sequence[np.ndarray]
"""One step: a (H, W, 3) / (H, W, 1) / (H, W) uint8 array, or a tuple of such panels (x_t, x0, eps)."""

BACKGROUND = (255, 255, 255)
INK = (20, 20, 20)
GAP = 4  # pixels between panels, and padding around the caption text
MIN_FONT, MAX_FONT = 10, 20
NOTE_INK = (90, 90, 90)
FONT_FILE = "fonts/DejaVuSans.ttf"


@dataclass(frozen=True)
class Layout:
    """Sizes shared by every frame of one export (all frames must have the same panel shapes)."""

    panel_sizes: tuple[tuple[int, int], ...]  # (height, width) per panel before scaling
    scale: int
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont | None
    width: int
    panels_height: int
    caption_height: int
    titles: tuple[str, ...] = ()  # one heading per panel, drawn above it
    title_height: int = 0
    note: str = ""  # a fixed second caption line (the run's settings)

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.title_height + self.panels_height + self.caption_height


def make_layout(frames: Sequence[Frame], labels: Sequence[str] | None, scale: int,
                titles: Sequence[str] | None = None, note: str | None = None) -> Layout:
    """Check that every frame has the same panel shapes, and size the caption for the longest label.

    ``titles`` (one per panel) are drawn above the panels; ``note`` is a fixed line under every label."""
    if len(frames) == 0:
        raise OptionError("There are no frames to export.")
    if isinstance(scale, bool) or not isinstance(scale, numbers.Integral) or scale < 1:
        raise OptionError(f"The scale must be a whole number of at least 1, not {scale}.")
    if labels is not None and len(labels) != len(frames):
        raise OptionError(f"There are {len(labels)} labels for {len(frames)} frames; give one per frame.")
    shapes = _panel_sizes(frames[0], 0)
    for i, frame in enumerate(frames[1:], start=1):
        if _panel_sizes(frame, i) != shapes:
            raise OptionError(
                f"Frame {i} has panels of {_describe(_panel_sizes(frame, i))} but frame 0 has "
                f"{_describe(shapes)}; all frames must be the same size."
            )
    if titles is not None and len(titles) != len(shapes):
        raise OptionError(f"There are {len(titles)} pane titles for {len(shapes)} panes; give one per pane.")
    panels_width = sum(w for _, w in shapes) * scale + GAP * (len(shapes) - 1)
    panels_height = max(h for h, _ in shapes) * scale
    texts = [*(labels or ()), *([note] if note else [])]
    if not texts and not titles:
        return Layout(shapes, scale, None, panels_width, panels_height, 0)
    font = _font(max(MIN_FONT, min(MAX_FONT, panels_height // 10)))
    lines = bool(labels) + bool(note)
    caption_height = lines * _line_height(font) + (GAP * (lines + 1) if lines else 0)
    width = max([panels_width, *(_text_width(font, text) + 2 * GAP for text in texts)])
    title_height = 0
    if titles:
        title_height = _line_height(font) + 2 * GAP
        # each title must fit over its own panel: widen the frame (panels stay centred) when one is longer
        widest = max(_text_width(font, t) + GAP for t in titles)
        width = max(width, widest * len(shapes) + GAP * (len(shapes) - 1))
    return Layout(shapes, scale, font, width, panels_height, caption_height, tuple(titles or ()), title_height,
                  note or "")


def compose(frame: Frame, label: str | None, layout: Layout) -> Image.Image:
    """Draw one frame as an RGB image of ``layout.size``: panels centred, caption centred below."""
    panels = [_panel_image(p, layout.scale) for p in _as_panels(frame)]
    if len(panels) == 1 and panels[0].size == layout.size:
        return panels[0]  # a lone unlabelled panel needs no canvas
    image = Image.new("RGB", layout.size, BACKGROUND)
    draw = ImageDraw.Draw(image)
    slot = (layout.width - GAP * (len(panels) - 1)) / len(panels) if layout.titles else 0.0
    x = (layout.width - sum(p.width for p in panels) - GAP * (len(panels) - 1)) // 2
    for k, panel in enumerate(panels):
        if layout.titles:  # panels sit in equal slots under their titles
            x = round(k * (slot + GAP) + (slot - panel.width) / 2)
            title = layout.titles[k]
            left = round(k * (slot + GAP) + (slot - _text_width(layout.font, title)) / 2)
            draw.text((left, GAP), title, fill=INK, font=layout.font)
        image.paste(panel, (x, layout.title_height))
        x += panel.width + GAP
    y = layout.title_height + layout.panels_height + GAP
    if layout.font is not None and label:
        left = (layout.width - _text_width(layout.font, label)) // 2
        draw.text((left, y), label, fill=INK, font=layout.font)
        y += _line_height(layout.font) + GAP
    if layout.font is not None and layout.note:
        left = (layout.width - _text_width(layout.font, layout.note)) // 2
        draw.text((left, y), layout.note, fill=NOTE_INK, font=layout.font)
    return image


def _panel_image(panel: np.ndarray, scale: int) -> Image.Image:
    """An RGB image of one panel, nearest-neighbour upscaled by ``scale``."""
    image = Image.fromarray(panel if panel.ndim == 2 else panel[:, :, 0] if panel.shape[2] == 1 else panel)
    image = image if image.mode == "RGB" else image.convert("RGB")
    if scale == 1:
        return image
    return image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)


def _as_panels(frame: Frame) -> list[np.ndarray]:
    return list(frame) if isinstance(frame, (list, tuple)) else [frame]


def _panel_sizes(frame: Frame, index: int) -> tuple[tuple[int, int], ...]:
    panels = _as_panels(frame)
    if not panels:
        raise OptionError(f"Frame {index} has no panels.")
    for panel in panels:
        ok_shape = isinstance(panel, np.ndarray) and (
            panel.ndim == 2 or (panel.ndim == 3 and panel.shape[2] in (1, 3))
        )
        if not ok_shape or panel.dtype != np.uint8 or panel.size == 0:
            got = f"{panel.dtype} {panel.shape}" if isinstance(panel, np.ndarray) else type(panel).__name__
            raise OptionError(f"Frame {index} is not an (H, W, 3), (H, W, 1) or (H, W) uint8 image ({got}).")
    return tuple((p.shape[0], p.shape[1]) for p in panels)


def _describe(shapes: tuple[tuple[int, int], ...]) -> str:
    return " + ".join(f"{w} x {h}" for h, w in shapes)


def caption_font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """The bundled DejaVu Sans at ``size`` px; Pillow's default font if it is missing or FreeType is absent."""
    try:
        return ImageFont.truetype(str(resources_dir() / FONT_FILE), size)
    except (ImportError, OSError):
        pass
    try:
        return ImageFont.load_default(size=size)
    except (ImportError, OSError):
        return ImageFont.load_default()


_font = caption_font


def _text_width(font: ImageFont.FreeTypeFont | ImageFont.ImageFont, text: str) -> int:
    left, _, right, _ = font.getbbox(text)
    return int(np.ceil(right - min(left, 0)))


def _line_height(font: ImageFont.FreeTypeFont | ImageFont.ImageFont) -> int:
    _, top, _, bottom = font.getbbox("Ayg0=|")
    return int(np.ceil(bottom - min(top, 0)))
