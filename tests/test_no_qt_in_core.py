"""The core, models, I/O, training and CLI import neither PySide6 nor pyqtgraph (checked in a fresh interpreter)."""

from __future__ import annotations

import subprocess
import sys

CORE_MODULES = [
    "diffusion_studio",
    "diffusion_studio.core",
    "diffusion_studio.models",
    "diffusion_studio.models.closed_form",
    "diffusion_studio.io.images",
    "diffusion_studio.io.gif",
    "diffusion_studio.io.frames",
    "diffusion_studio.runs",
    "diffusion_studio.cli",
    "diffusion_studio.commands.sample",
    "diffusion_studio.commands.noise",
    "diffusion_studio.session.frames",
    "diffusion_studio.session.frame_store",
]


def test_core_imports_no_qt() -> None:
    code = (
        "import sys, importlib\n"
        f"for m in {CORE_MODULES!r}: importlib.import_module(m)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'shiboken6'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"Qt was imported by the core: {out.stdout}"


def test_package_import_is_light() -> None:
    code = "import sys, diffusion_studio; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
