"""Typed errors that carry one clear, user-facing sentence (shown as-is by the CLI and the app)."""

from __future__ import annotations


class StudioError(Exception):
    """Base class: ``str(err)`` is a complete sentence meant for the user."""


class ImageLoadError(StudioError):
    """An image file could not be read (missing, empty, truncated, not an image, too large...)."""


class ExportError(StudioError):
    """A GIF or PNG could not be written."""


class ModelError(StudioError):
    """A model could not be found or loaded, or it produced unusable output."""


class DataError(StudioError):
    """Training data is missing or malformed."""


class OptionError(StudioError):
    """An option has a value that cannot be used."""
