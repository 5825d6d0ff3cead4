"""The Linux desktop entry, the AppStream metainfo and the icon set: consistent with the app and valid.

The validators (desktop-file-validate from desktop-file-utils, appstreamcli from appstream) run where they are
installed and are skipped otherwise; the other checks need nothing but Pillow.
"""

from __future__ import annotations

import configparser
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image

from diffusion_studio import APP_ID, APP_NAME, __version__

ROOT = Path(__file__).resolve().parents[2]
LINUX = ROOT / "packaging" / "linux"
DESKTOP = LINUX / f"{APP_ID}.desktop"
METAINFO = LINUX / f"{APP_ID}.metainfo.xml"
ICONS = ROOT / "resources" / "icons"
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
MIME_TYPES = {"image/png", "image/jpeg", "image/webp", "image/bmp", "image/tiff", "image/gif"}


def desktop_entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    parser.optionxform = str  # keys are case-sensitive
    parser.read(DESKTOP, encoding="utf-8")
    return parser["Desktop Entry"]


def split_list(value: str) -> list[str]:
    return [item for item in value.split(";") if item]


def test_app_id_is_reverse_dns() -> None:
    parts = APP_ID.split(".")
    assert len(parts) >= 3 and all(p and (p[0].isalpha() or p[0] == "_") for p in parts), APP_ID
    assert all(c.isalnum() or c in "._-" for c in APP_ID)


def test_desktop_entry_launches_the_app_with_files() -> None:
    entry = desktop_entry()
    assert entry["Type"] == "Application"
    assert entry["Name"] == APP_NAME
    assert entry["Exec"] == "diffusion-studio %F"
    assert entry["Icon"] == APP_ID
    assert entry["Terminal"] == "false"
    assert set(split_list(entry["MimeType"])) == MIME_TYPES
    assert {"Graphics", "Education", "Science"} <= set(split_list(entry["Categories"]))
    # X11 WM_CLASS is (argv[0] basename, QApplication.applicationName()) = ("diffusion-studio", "DiffusionStudio").
    assert entry["StartupWMClass"] == APP_ID.rsplit(".", 1)[1]
    assert entry["Comment"]


def test_metainfo_matches_the_app() -> None:
    root = ET.parse(METAINFO).getroot()
    assert root.tag == "component" and root.get("type") == "desktop-application"
    assert root.findtext("id") == APP_ID
    assert root.findtext("name") == APP_NAME
    assert root.findtext("metadata_license") == "CC0-1.0"
    assert root.findtext("project_license") == "MIT"
    launchable = root.find("launchable")
    assert launchable is not None and launchable.get("type") == "desktop-id"
    assert launchable.text == DESKTOP.name
    assert len(root.findall("description/p")) >= 2
    images = [i.text or "" for i in root.findall("screenshots/screenshot/image")]
    assert images and all(i.startswith("https://") for i in images)
    assert root.find("screenshots/screenshot/caption") is not None
    assert root.find("content_rating") is not None
    assert root.find("url[@type='homepage']") is not None
    releases = [r.get("version") for r in root.findall("releases/release")]
    assert releases, "no <release>"
    if "+" not in __version__:  # installed: the newest release listed is the package's version
        assert releases[0] == __version__, f"add a <release version='{__version__}'> to {METAINFO.name}"


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None, reason="desktop-file-utils is not installed")
def test_desktop_file_validate() -> None:
    result = subprocess.run(["desktop-file-validate", str(DESKTOP)], capture_output=True, text=True)
    problems = [line for line in (result.stdout + result.stderr).splitlines() if ": hint: " not in line]
    assert result.returncode == 0 and not problems, "\n".join(problems)


@pytest.mark.skipif(shutil.which("appstreamcli") is None, reason="appstream is not installed")
def test_appstreamcli_validate() -> None:
    result = subprocess.run(
        ["appstreamcli", "validate", "--no-net", "--no-color", str(METAINFO)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("size", PNG_SIZES)
def test_icon_png_sizes(size: int) -> None:
    path = ICONS / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png"
    assert path.is_file(), f"{path} missing: run python packaging/make_icons.py"
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.size == (size, size)
        assert image.mode == "RGBA"
        corner, centre = image.getpixel((0, 0)), image.getpixel((size // 2, size // 2))
    assert corner[3] == 0, "the rounded tile leaves the corners transparent"
    assert centre[3] == 255


def test_windows_and_macos_icons() -> None:
    with Image.open(ICONS / "diffusion-studio.ico") as ico:
        assert ico.format == "ICO"
        assert {(16, 16), (32, 32), (48, 48), (256, 256)} <= set(ico.info["sizes"])
    with Image.open(ICONS / "diffusion-studio.icns") as icns:
        assert icns.format == "ICNS"
        assert icns.size == (1024, 1024)  # the largest entry (512 px @2x)


def test_svg_source_is_self_contained() -> None:
    text = (ICONS / "diffusion-studio.svg").read_text(encoding="utf-8")
    root = ET.fromstring(text)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("viewBox") == "0 0 256 256"
    # Qt's SVG renderer (window icon, make_icons.py) ignores these, and fonts differ between machines.
    for unsupported in ("<text", "font-family", "<filter", "clip-path", "<image", "xlink:href"):
        assert unsupported not in text, unsupported


def test_svg_renders_in_qt() -> None:
    qtsvg = pytest.importorskip("PySide6.QtSvg")
    renderer = qtsvg.QSvgRenderer(str(ICONS / "diffusion-studio.svg"))
    assert renderer.isValid()
    assert renderer.defaultSize().width() == renderer.defaultSize().height() == 256
