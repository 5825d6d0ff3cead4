"""Moved: the step -> frame stream is :mod:`diffusion_studio.session.frames` (Qt-free, shared with the CLI).

The names stay importable from here for code written before the move; new code imports from the session layer.
"""

from __future__ import annotations

import os

import torch

from diffusion_studio.session.frames import (
    FINAL_T,
    Notice,
    StepFrames,
    count_frames,
    describe_device,
    frame_bytes,
    stream_frames,
    to_uint8_image,
)

__all__ = ["FINAL_T", "Notice", "StepFrames", "configure_torch_threads", "count_frames", "describe_device",
           "frame_bytes", "stream_frames", "to_uint8_image"]


def configure_torch_threads() -> int:
    """Leave one CPU core to the window: torch's pool gets the others (at least one). Returns the count.

    On a busy two-core machine, two torch threads racing the GUI thread make every small tensor op wait for a
    descheduled helper thread; one thread is then several times faster.
    """
    threads = max(1, (os.cpu_count() or 2) - 1)
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads
