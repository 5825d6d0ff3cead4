"""Render the app icon from its SVG source into every raster format the packages need.

    python packaging/make_icons.py            # writes into resources/icons/
    python packaging/make_icons.py --check    # exit 1 if any output is missing or out of date

Source:  resources/icons/diffusion-studio.svg (hand-written, the only hand-made artwork)
Outputs: resources/icons/hicolor/<n>x<n>/apps/<APP_ID>.png  for n in 16 24 32 48 64 128 256 512
         resources/icons/diffusion-studio.ico    (Windows: 16 24 32 48 64 128 256 in one file)
         resources/icons/diffusion-studio.icns   (macOS: 16 to 1024, retina sizes included)

The PNG tree follows the freedesktop hicolor layout, so packaging/linux/install-desktop-entry.sh copies it as it is.
Rendering uses Qt's own SVG renderer (PySide6.QtSvg, part of PySide6-Essentials, already an app dependency) on the
offscreen platform, so no display and no extra package is needed; Pillow writes the PNG, ICO and ICNS files.
Small sizes are rendered at 8x and area-averaged down, which keeps the 16 px icon smooth instead of aliased.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ICONS = ROOT / "resources" / "icons"
SOURCE = ICONS / "diffusion-studio.svg"
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
ICNS_SIZES = (16, 32, 64, 128, 256, 512, 1024)


def app_id() -> str:
    sys.path.insert(0, str(ROOT))
    try:
        from diffusion_studio import APP_ID
    finally:
        sys.path.pop(0)
    return APP_ID


def png_path(size: int, icons: Path = ICONS) -> Path:
    return icons / "hicolor" / f"{size}x{size}" / "apps" / f"{app_id()}.png"


def render(svg: Path, size: int):
    """The SVG as a size x size RGBA Pillow image."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PIL import Image
    from PySide6.QtCore import QRectF
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication([sys.argv[0]])  # noqa: F841 (kept alive while painting)
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"error: {svg} is not a valid SVG for Qt")
    scale = 8 if size <= 64 else (2 if size <= 256 else 1)
    big = size * scale
    image = QImage(big, big, QImage.Format.Format_RGBA8888)
    image.fill(0)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter, QRectF(0, 0, big, big))
    painter.end()
    data = bytes(image.constBits())[: image.bytesPerLine() * big]
    picture = Image.frombuffer("RGBA", (big, big), data, "raw", "RGBA", image.bytesPerLine(), 1).copy()
    if scale > 1:
        # Area-average in premultiplied form: exact pixel coverage, no ringing, no dark fringes at the corners.
        picture = picture.convert("RGBa").reduce(scale).convert("RGBA")
    return picture


def png_bytes(picture) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def build(svg: Path = SOURCE, icons: Path = ICONS) -> dict[Path, bytes]:
    """Every output file and its bytes (nothing written)."""
    sizes = sorted(set(PNG_SIZES) | set(ICO_SIZES) | set(ICNS_SIZES))
    pictures = {n: render(svg, n) for n in sizes}
    outputs: dict[Path, bytes] = {png_path(n, icons): png_bytes(pictures[n]) for n in PNG_SIZES}

    ico = io.BytesIO()
    largest = max(ICO_SIZES)
    pictures[largest].save(
        ico, format="ICO", sizes=[(n, n) for n in ICO_SIZES],
        append_images=[pictures[n] for n in ICO_SIZES if n != largest],
    )
    outputs[icons / "diffusion-studio.ico"] = ico.getvalue()

    icns = io.BytesIO()
    largest = max(ICNS_SIZES)
    pictures[largest].save(icns, format="ICNS", append_images=[pictures[n] for n in ICNS_SIZES if n != largest])
    outputs[icons / "diffusion-studio.icns"] = icns.getvalue()
    return outputs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the outputs are present and current")
    parser.add_argument("--svg", type=Path, default=SOURCE, help="source SVG (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=ICONS, help="icons folder (default: %(default)s)")
    args = parser.parse_args(argv)

    outputs = build(args.svg, args.out)
    stale = [p for p, data in outputs.items() if not p.is_file() or p.read_bytes() != data]
    if args.check:
        for path in stale:
            print(f"out of date: {path}", file=sys.stderr)
        return 1 if stale else 0
    for path, data in outputs.items():
        if path in stale:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    print(f"{len(outputs)} icon files in {args.out} ({len(stale)} written)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
