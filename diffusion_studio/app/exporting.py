"""Moved to :mod:`diffusion_studio.session.export_plan` (no Qt); these names stay importable from here."""

from diffusion_studio.session.export_plan import (
    ESTIMATE_RUNS,
    SPACINGS,
    ExportOutcome,
    ExportRequest,
    ExportSource,
    chosen_positions,
    default_export_path,
    estimate,
    file_stem,
    forward_source,
    progress_values,
    reverse_source,
    run_export,
    run_note,
    select_even,
)

__all__ = [
    "chosen_positions",
    "default_export_path",
    "estimate",
    "ESTIMATE_RUNS",
    "ExportOutcome",
    "ExportRequest",
    "ExportSource",
    "file_stem",
    "forward_source",
    "progress_values",
    "reverse_source",
    "run_export",
    "run_note",
    "select_even",
    "SPACINGS",
]
