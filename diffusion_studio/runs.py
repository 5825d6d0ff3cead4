"""Moved to :mod:`diffusion_studio.session.request`; this name stays so that existing imports keep working."""

from diffusion_studio.session.request import (
    DEFAULT_CLOSED_FORM_SIZE,
    DEFAULT_SCHEDULE,
    PreparedRun,
    RunRequest,
    parse_class,
    prepare_run,
    resolve_device,
)

__all__ = [
    "DEFAULT_CLOSED_FORM_SIZE",
    "DEFAULT_SCHEDULE",
    "PreparedRun",
    "RunRequest",
    "parse_class",
    "prepare_run",
    "resolve_device",
]
