"""Diffusion Studio: see how a diffusion model works.

Importing the package imports neither torch nor Qt; the version comes from the installed metadata.
"""

from __future__ import annotations

from importlib import metadata as _metadata

APP_ID = "io.github.diffusionstudio.DiffusionStudio"
APP_NAME = "Diffusion Studio"

try:
    __version__ = _metadata.version("diffusion-studio")
except _metadata.PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0.0.0+checkout"
