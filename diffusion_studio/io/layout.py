"""Lay out one export frame: panels side by side (nearest-upscaled), then a caption strip below.

Shared by the GIF and the contact-sheet exporters so both show the same picture for the same step.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from diffusion_studio.errors import OptionError

Frame = np.ndarray | Sequence[np.ndarray]
"""One step: a (H, W, 3) / (H, W, 1) / (H, W) uint8 array, or a tuple of such panels (x_t, x0, eps)."""

BACKGROUND = (255, 255, 255)
INK = (20, 20, 20)
GAP = 4  # pixels between panels, and padding around the caption text
MIN_FONT, MAX_FONT = 10, 20


@dataclass(frozen=True)
class Layout:
    """Sizes shared by every frame of one export (all frames must have the same panel shapes)."""

    panel_sizes: tuple[tuple[int, int], ...]  # (height, width) per panel before scaling
    scale: int
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont | None
    width: int
    panels_height: int
    caption_height: int

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.panels_height + self.caption_height


def make_layout(frames: Sequence[Frame], labels: Sequence[str] | None, scale: int) -> Layout:
    """Check that every frame has the same panel shapes, and size the caption for the longest label."""
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
    panels_width = sum(w for _, w in shapes) * scale + GAP * (len(shapes) - 1)
    panels_height = max(h for h, _ in shapes) * scale
    if not labels:
        return Layout(shapes, scale, None, panels_width, panels_height, 0)
    font = _font(max(MIN_FONT, min(MAX_FONT, panels_height // 10)))
    text_width = max(_text_width(font, text) for text in labels)
    caption_height = _line_height(font) + 2 * GAP
    return Layout(shapes, scale, font, max(panels_width, text_width + 2 * GAP), panels_height, caption_height)


def compose(frame: Frame, label: str | None, layout: Layout) -> Image.Image:
    """Draw one frame as an RGB image of ``layout.size``: panels centred, caption centred below."""
    panels = [_panel_image(p, layout.scale) for p in _as_panels(frame)]
    if len(panels) == 1 and panels[0].size == layout.size:
        return panels[0]  # a lone unlabelled panel needs no canvas
    image = Image.new("RGB", layout.size, BACKGROUND)
    x = (layout.width - sum(p.width for p in panels) - GAP * (len(panels) - 1)) // 2
    for panel in panels:
        image.paste(panel, (x, 0))
        x += panel.width + GAP
    if layout.font is not None and label:
        draw = ImageDraw.Draw(image)
        left = (layout.width - _text_width(layout.font, label)) // 2
        draw.text((left, layout.panels_height + GAP), label, fill=INK, font=layout.font)
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


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's bundled font at ``size`` px (needs FreeType); the fixed bitmap font otherwise."""
    try:
        return ImageFont.load_default(size=size)
    except (ImportError, OSError):
        return ImageFont.load_default()


def _text_width(font: ImageFont.FreeTypeFont | ImageFont.ImageFont, text: str) -> int:
    left, _, right, _ = font.getbbox(text)
    return int(np.ceil(right - min(left, 0)))


def _line_height(font: ImageFont.FreeTypeFont | ImageFont.ImageFont) -> int:
    _, top, _, bottom = font.getbbox("Ayg0=|")
    return int(np.ceil(bottom - min(top, 0)))
