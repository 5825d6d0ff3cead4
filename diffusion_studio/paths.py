"""Where the bundled resources live, from a checkout, an installed wheel or a PyInstaller bundle."""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path


@cache
def resources_dir() -> Path:
    """The folder holding ``samples/``, ``models/`` and ``icons/``."""
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:  # PyInstaller one-folder bundle
        candidate = Path(frozen) / "diffusion_studio" / "resources"
        if candidate.is_dir():
            return candidate
    try:
        from importlib.resources import files

        candidate = Path(str(files("diffusion_studio.resources")))
        if (candidate / "samples").is_dir():
            return candidate
    except (ModuleNotFoundError, TypeError):
        pass
    return Path(__file__).resolve().parent.parent / "resources"


def sample_images() -> list[Path]:
    """The bundled sample photographs, sorted by name."""
    folder = resources_dir() / "samples"
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in {".png", ".jpg", ".jpeg"})


def builtin_models_dir() -> Path:
    return resources_dir() / "models"


def icon_path(name: str = "diffusion-studio.svg") -> Path:
    return resources_dir() / "icons" / name
