"""Export captions render every symbol (bundled DejaVu Sans), name each pane, and carry the run's settings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageFont

from diffusion_studio.io.gif import CELL_GAP, export_contact_sheet, export_gif
from diffusion_studio.io.layout import FONT_FILE, caption_font, compose, make_layout
from diffusion_studio.paths import resources_dir

SYMBOLS = "x₀ x̂₀ ε ε̂θ ᾱₜ √(1−ᾱ) β̃ σ² → ·"


def _is_notdef(font: ImageFont.FreeTypeFont, ch: str) -> bool:
    """True if ``ch`` is drawn as the font's missing-glyph box (the glyph of a noncharacter)."""
    box, glyph = np.asarray(font.getmask("\uffff")), np.asarray(font.getmask(ch))
    return box.shape == glyph.shape and np.array_equal(box, glyph)


def test_the_bundled_font_and_its_licence_ship_together():
    folder = resources_dir() / "fonts"
    assert (resources_dir() / FONT_FILE).is_file()
    licence = (folder / "LICENSE.md").read_text(encoding="utf-8")
    assert "Bitstream" in licence and "DejaVu" in licence


def test_every_caption_symbol_has_a_glyph():
    font = caption_font(20)
    assert isinstance(font, ImageFont.FreeTypeFont) and "DejaVu" in font.getname()[0]
    missing = [ch for ch in SYMBOLS if not ch.isspace() and _is_notdef(font, ch)]
    assert not missing, f"drawn as missing-glyph boxes: {missing}"
    default = ImageFont.load_default(size=20)  # the check can fail: Pillow's own font lacks these
    assert _is_notdef(default, "₀") and _is_notdef(default, "ε")


def test_a_rendered_caption_differs_from_boxes():
    """Draw 'x₀' and 'x□' (U+FFFF renders as the box): the pictures must differ."""
    panel = np.full((60, 60, 3), 128, np.uint8)
    layout = make_layout([panel], ["x₀"], 1)
    good = np.asarray(compose(panel, "x₀", layout))
    boxed = np.asarray(compose(panel, "x\uffff", layout))
    assert not np.array_equal(good, boxed)


def test_panes_are_titled_and_the_run_is_named(tmp_path: Path):
    rng = np.random.default_rng(1)
    steps = [tuple(rng.integers(0, 256, (28, 28, 3), dtype=np.uint8) for _ in range(3)) for _ in range(3)]
    note = "digits · class 7 · CFG s = 3 · DDIM 50 steps · seed 2"
    titles = ("xₜ", "predicted x₀", "predicted ε")
    layout = make_layout(steps, ["t = 999", "t = 500", "x₀"], 4, titles, note)
    plain = make_layout(steps, ["t = 999", "t = 500", "x₀"], 4)
    assert layout.title_height > 0 and layout.size[1] > plain.size[1] + layout.title_height  # a second line
    image = np.asarray(compose(steps[0], "t = 999", layout))
    assert (image[: layout.title_height] < 100).any()  # dark title text above the panels
    caption = image[layout.title_height + layout.panels_height:]
    rows_with_ink = np.flatnonzero((caption < 140).any(axis=(1, 2)))
    assert np.diff(rows_with_ink).max() > 2  # two lines of text: ink, blank rows, ink
    summary = export_gif(tmp_path / "titled.gif", steps, ["t = 999", "t = 500", "x₀"], titles=titles, note=note)
    with Image.open(summary.path) as gif:
        assert gif.size == layout.size or gif.size[1] > 28


def test_contact_sheet_steps_are_framed_apart(tmp_path: Path):
    frames = [tuple(np.full((16, 16, 3), v, np.uint8) for _ in range(3)) for v in (10, 120, 240)]
    path = export_contact_sheet(tmp_path / "s.png", frames, columns=3)
    with Image.open(path) as im:
        sheet = np.asarray(im.convert("RGB"))
    cell_w = 3 * 16 + 2 * 4
    assert sheet.shape[1] == 3 * cell_w + 4 * CELL_GAP
    between = sheet[CELL_GAP + 8, CELL_GAP + cell_w: 2 * CELL_GAP + cell_w]  # the strip between steps 1 and 2
    assert len(between) >= 3 * 4 and (between < 250).any()  # wider than a pane gap, with a frame line
