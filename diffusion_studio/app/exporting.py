"""Moved to :mod:`diffusion_studio.session.export_plan` (no Qt); these names stay importable from here."""

from diffusion_studio.session.export_plan import (
    GIF_BYTES_PER_PIXEL,
    ExportRequest,
    ExportSource,
    chosen_positions,
    estimate,
    forward_source,
    reverse_source,
    run_export,
)

__all__ = ["GIF_BYTES_PER_PIXEL", "ExportRequest", "ExportSource", "chosen_positions", "estimate",
           "forward_source", "reverse_source", "run_export"]
