"""Small line plots drawn with Pillow (no matplotlib): what the lens exports write as PNG."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from diffusion_studio.io.layout import caption_font

PALETTE = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75)]


@dataclass
class Series:
    """One curve. ``dashed`` draws a dashed line; ``marker`` draws a dot at every point; ``width`` in pixels."""

    label: str
    x: Sequence[float]
    y: Sequence[float]
    color: tuple[int, int, int] | None = None
    dashed: bool = False
    marker: bool = False
    width: int = 2


@dataclass
class Plot:
    title: str
    xlabel: str
    ylabel: str
    series: list[Series] = field(default_factory=list)
    logx: bool = False
    logy: bool = False
    vlines: list[tuple[float, tuple[int, int, int], str]] = field(default_factory=list)  # (x, colour, label)
    points: list[tuple[float, float, tuple[int, int, int]]] = field(default_factory=list)  # big dots (x, y, colour)
    invert_x: bool = False


def _font(size: int) -> ImageFont.ImageFont:
    """The bundled DejaVu Sans (it has λ, σ, ᾱ, ε, x₀ and arrows; Pillow's own default font does not)."""
    return caption_font(size)


def _ticks(lo: float, hi: float, log: bool) -> list[float]:
    if log:
        mults = (1,) if hi - lo > 2.5 else (1, 2, 5)
        out = [m * 10.0**e for e in range(math.floor(lo), math.ceil(hi) + 1) for m in mults]
        return [v for v in out if lo - 1e-9 <= math.log10(v) <= hi + 1e-9]
    span = hi - lo if hi > lo else 1.0
    step = 10 ** math.floor(math.log10(span / 5))
    step *= next(m for m in (1, 2, 5, 10) if span / (step * m) <= 6)
    start = math.ceil(lo / step) * step
    return [start + i * step for i in range(int((hi - start) / step + 1e-9) + 1)]


def _fmt(v: float) -> str:
    if v != 0 and (abs(v) < 1e-2 or abs(v) >= 1e4):
        return f"{v:.0e}".replace("e-0", "e-").replace("e+0", "e")
    return f"{v:g}"


def render(plot: Plot, size: tuple[int, int] = (560, 400)) -> Image.Image:
    """Draw ``plot`` on a white image: axes, ticks, curves, markers and a legend."""
    entries = [(s.label, s.color or PALETTE[i % len(PALETTE)], s.dashed) for i, s in enumerate(plot.series) if s.label]
    entries += [(label, colour, True) for _, colour, label in plot.vlines if label]
    rows = (len(entries) + 1) // 2
    w, h = size[0], size[1] + 16 * rows
    left, right, top, bottom = 64, 16, 30, 46 + 16 * rows
    img = Image.new("RGB", (w, h), "white")
    draw = ImageDraw.Draw(img)
    font, small = _font(14), _font(11)

    def tr(v: np.ndarray, log: bool) -> np.ndarray:
        v = np.asarray(v, dtype=np.float64)
        return np.log10(np.where(v > 0, v, np.nan)) if log else v

    xs = [tr(s.x, plot.logx) for s in plot.series] + [tr([v for v, _, _ in plot.vlines], plot.logx)]
    ys = [tr(s.y, plot.logy) for s in plot.series]
    allx = np.concatenate([a[np.isfinite(a)] for a in xs] + [np.zeros(0)])
    ally = np.concatenate([a[np.isfinite(a)] for a in ys] + [np.zeros(0)])
    x0, x1 = (allx.min(), allx.max()) if len(allx) else (0.0, 1.0)
    y0, y1 = (ally.min(), ally.max()) if len(ally) else (0.0, 1.0)
    if x1 == x0:
        x0, x1 = x0 - 0.5, x1 + 0.5
    pad = (y1 - y0) * 0.05 or 0.5
    y0, y1 = y0 - pad, y1 + pad
    pw, ph = w - left - right, h - top - bottom

    def px(x: float) -> float:
        u = (x - x0) / (x1 - x0)
        return left + (1 - u if plot.invert_x else u) * pw

    def py(y: float) -> float:
        return top + (1 - (y - y0) / (y1 - y0)) * ph

    draw.text((left, 6), plot.title, fill="black", font=font)
    for v in _ticks(x0, x1, plot.logx):
        tv = math.log10(v) if plot.logx else v
        draw.line([(px(tv), top), (px(tv), top + ph)], fill=(232, 232, 232))
        draw.text((px(tv), top + ph + 4), _fmt(v), fill="black", font=small, anchor="ma")
    for v in _ticks(y0, y1, plot.logy):
        tv = math.log10(v) if plot.logy else v
        draw.line([(left, py(tv)), (left + pw, py(tv))], fill=(232, 232, 232))
        draw.text((left - 4, py(tv)), _fmt(v), fill="black", font=small, anchor="rm")
    draw.rectangle([left, top, left + pw, top + ph], outline="black")
    draw.text((left + pw / 2, top + ph + 38), plot.xlabel, fill="black", font=font, anchor="md")
    ylabel = Image.new("RGBA", (ph, 18), (255, 255, 255, 0))
    ImageDraw.Draw(ylabel).text((ph / 2, 9), plot.ylabel, fill="black", font=font, anchor="mm")
    img.paste(ylabel.rotate(90, expand=True), (4, top), ylabel.rotate(90, expand=True))
    for v, colour, _ in plot.vlines:
        tv = math.log10(v) if plot.logx else v
        for yy in range(top, top + ph, 8):
            draw.line([(px(tv), yy), (px(tv), min(yy + 4, top + ph))], fill=colour, width=2)
    for i, (s, sx, sy) in enumerate(zip(plot.series, xs, ys, strict=False)):
        colour = s.color or PALETTE[i % len(PALETTE)]
        pts = [(px(a), py(b)) for a, b in zip(sx, sy, strict=True) if np.isfinite(a) and np.isfinite(b)]
        if s.dashed:
            _dashed(draw, pts, colour, s.width)
        elif len(pts) > 1:
            draw.line(pts, fill=colour, width=s.width, joint="curve")
        if s.marker or len(pts) == 1:
            for p in pts:
                draw.ellipse([p[0] - 2.5, p[1] - 2.5, p[0] + 2.5, p[1] + 2.5], fill=colour)
    for x, y, colour in plot.points:
        tx, ty = tr([x], plot.logx)[0], tr([y], plot.logy)[0]
        if np.isfinite(tx) and np.isfinite(ty):
            draw.ellipse([px(tx) - 5, py(ty) - 5, px(tx) + 5, py(ty) + 5], outline="black", fill=colour, width=1)
    for j, (label, colour, dashed) in enumerate(entries):  # the legend: two columns under the x label
        lx, ly = left + (j % 2) * pw / 2, top + ph + 46 + 16 * (j // 2)
        if dashed:
            _dashed(draw, [(lx, ly + 7), (lx + 24, ly + 7)], colour, 2, dash=4.0)
        else:
            draw.line([(lx, ly + 7), (lx + 24, ly + 7)], fill=colour, width=3)
        draw.text((lx + 30, ly), label, fill="black", font=small)
    return img


def _dashed(draw: ImageDraw.ImageDraw, pts: list[tuple[float, float]], colour, width: int, dash: float = 6.0) -> None:
    """A polyline drawn as dashes of ``dash`` pixels, the pattern running on across its vertices."""
    phase = 0.0
    for (ax, ay), (bx, by) in zip(pts, pts[1:], strict=False):
        length = math.hypot(bx - ax, by - ay)
        pos = 0.0
        while pos < length:
            run = min(dash - (phase + 1e-6) % dash + 1e-6, length - pos)
            if int((phase + 1e-6) // dash) % 2 == 0:
                u0, u1 = pos / length, (pos + run) / length
                draw.line(
                    [(ax + u0 * (bx - ax), ay + u0 * (by - ay)), (ax + u1 * (bx - ax), ay + u1 * (by - ay))],
                    fill=colour,
                    width=width,
                )
            pos += run
            phase += run


def side_by_side(images: Sequence[Image.Image], gap: int = 8) -> Image.Image:
    """Images in one row on white."""
    w = sum(im.width for im in images) + gap * (len(images) - 1)
    out = Image.new("RGB", (w, max(im.height for im in images)), "white")
    x = 0
    for im in images:
        out.paste(im, (x, 0))
        x += im.width + gap
    return out


@dataclass
class Row:
    """One labelled row of tick marks on a shared x axis; ``second`` marks (triangles under the ticks) are a
    second kind of event at the same axis, e.g. Heun's correction calls."""

    label: str
    x: Sequence[float]
    second: Sequence[float] = ()
    color: tuple[int, int, int] | None = None


@dataclass
class RowPlot:
    title: str
    xlabel: str
    rows: list[Row] = field(default_factory=list)
    ends: tuple[str, str] = ("", "")  # captions over the left and right ends of the axis
    second_label: str = ""  # legend text for the triangles
    second_color: tuple[int, int, int] = (224, 138, 30)


def render_rows(plot: RowPlot, width: int = 760, row_height: int = 34) -> Image.Image:
    """Draw ``plot``: one row of ticks per :class:`Row`, labels on the left, a shared x axis with a grid."""
    font, small = _font(14), _font(12)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    label_w = max([probe.textlength(r.label, font=small) for r in plot.rows] + [40.0])
    left, right, top = int(label_w) + 20, 20, 48
    width = max(width, left + int(probe.textlength(plot.title, font=font)) + right)  # the title is never cut off
    ph = row_height * max(1, len(plot.rows))
    legend = 18 if plot.second_label and any(len(r.second) for r in plot.rows) else 0
    h = top + ph + 50 + legend
    img = Image.new("RGB", (width, h), "white")
    draw = ImageDraw.Draw(img)
    values = [np.asarray(v, dtype=np.float64) for r in plot.rows for v in (r.x, r.second)]
    finite = np.concatenate([v[np.isfinite(v)] for v in values] + [np.zeros(0)])
    x0, x1 = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
    pad = (x1 - x0) * 0.03 or 0.5
    x0, x1 = x0 - pad, x1 + pad
    pw = width - left - right

    def px(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * pw

    draw.text((left, 6), plot.title, fill="black", font=font)
    lnote, rnote = plot.ends
    draw.text((left, top - 18), lnote, fill=(110, 110, 110), font=small)
    draw.text((left + pw, top - 18), rnote, fill=(110, 110, 110), font=small, anchor="ra")
    for v in _ticks(x0, x1, False):
        draw.line([(px(v), top), (px(v), top + ph)], fill=(232, 232, 232))
        draw.text((px(v), top + ph + 4), _fmt(v), fill="black", font=small, anchor="ma")
    draw.rectangle([left, top, left + pw, top + ph], outline="black")
    draw.text((left + pw / 2, top + ph + 38), plot.xlabel, fill="black", font=font, anchor="md")
    for i, row in enumerate(plot.rows):
        colour = row.color or PALETTE[i % len(PALETTE)]
        mid = top + row_height * i + row_height / 2
        if i:
            draw.line([(left, top + row_height * i), (left + pw, top + row_height * i)], fill=(215, 215, 215))
        draw.text((left - 8, mid), row.label, fill="black", font=small, anchor="rm")
        draw.line([(left, mid), (left + pw, mid)], fill=(200, 200, 200))
        for x in np.asarray(row.x, dtype=np.float64):
            if np.isfinite(x):
                draw.line([(px(x), mid - 10), (px(x), mid + 3)], fill=colour, width=2)
        for x in np.asarray(row.second, dtype=np.float64):
            if np.isfinite(x):
                draw.polygon([(px(x), mid + 4), (px(x) - 4, mid + 12), (px(x) + 4, mid + 12)], fill=plot.second_color)
    if legend:
        ly = top + ph + 46
        draw.polygon([(left + 4, ly), (left, ly + 8), (left + 8, ly + 8)], fill=plot.second_color)
        draw.text((left + 14, ly - 2), plot.second_label, fill="black", font=small)
    return img
