"""Turn a prepared sampling run into a stream of small uint8 frames (no Qt: runs inside the worker thread).

Every step of :func:`diffusion_studio.core.plan.run_plan` becomes one :class:`StepFrames` holding contiguous
(H, W, C) uint8 copies of x_t, the predicted x0 and the predicted eps, so the window never touches tensors; after
the last step one more frame (t = -1) holds the finished image. A CUDA out-of-memory error restarts the run on the
CPU (same seed, so the same picture) and says so with a :class:`Notice`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from diffusion_studio.core.cancel import CancelToken
from diffusion_studio.core.plan import run_plan
from diffusion_studio.errors import ModelError
from diffusion_studio.io.frames import EPS_RANGE, tile, to_uint8_batch
from diffusion_studio.runs import PreparedRun

FINAL_T = -1  # timeline position of the finished image (abar_{-1} = 1: the clean end of the process)


@dataclass(frozen=True)
class StepFrames:
    """One recorded step as pictures. ``index`` runs 0..steps; index == steps is the finished image (t = -1)."""

    index: int
    steps: int
    t: int
    t_prev: int
    x_t: np.ndarray
    x0: np.ndarray
    eps: np.ndarray

    @property
    def is_final(self) -> bool:
        return self.t == FINAL_T

    @property
    def nbytes(self) -> int:
        return self.x_t.nbytes + self.x0.nbytes + self.eps.nbytes


@dataclass(frozen=True)
class Notice:
    """Something the person should know; ``restart`` means the frames so far are void (the run began again)."""

    text: str
    restart: bool = False
    device: str = ""


def to_uint8_image(x: torch.Tensor, lo: float = -1.0, hi: float = 1.0) -> np.ndarray:
    """(B, C, H, W) values in [lo, hi] -> one (H, W, C) uint8 image; batches are tiled like the CLI does."""
    images = to_uint8_batch(x, lo, hi)
    return images[0] if images.shape[0] == 1 else tile(images)


def frame_bytes(shape: tuple[int, int, int]) -> int:
    """Bytes of one :class:`StepFrames` for images of ``shape`` (C, H, W): three uint8 panels."""
    c, h, w = shape
    return 3 * c * h * w


def count_frames(prepared: PreparedRun) -> int:
    """How many frames a run streams: one per step plus the finished image."""
    return len(prepared.plan.timesteps(prepared.schedule)) + 1


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        try:
            return f"CUDA ({torch.cuda.get_device_name(device)})"
        except (RuntimeError, AssertionError):
            return "CUDA"
    return device.type.upper()


def stream_frames(prepared: PreparedRun, cancel: CancelToken | None = None) -> Iterator[StepFrames | Notice]:
    """Run the prepared plan, yielding uint8 frames; fall back to the CPU once if CUDA runs out of memory."""
    device = prepared.device
    while True:
        try:
            yield from _frames(prepared, device, cancel)
            return
        except torch.cuda.OutOfMemoryError as err:
            if device.type == "cpu":
                raise ModelError("The computer ran out of memory during sampling; try a smaller image.") from err
            prepared.model.to("cpu")
            torch.cuda.empty_cache()
            device = torch.device("cpu")
            yield Notice("The GPU ran out of memory, so the run started again on the CPU (same seed).",
                         restart=True, device=describe_device(device))


def _frames(prepared: PreparedRun, device: torch.device, cancel: CancelToken | None) -> Iterator[StepFrames]:
    steps = run_plan(prepared.model, prepared.schedule, prepared.plan, prepared.shape, prepared.init, device, cancel)
    previous: tuple[torch.Tensor, np.ndarray] | None = None  # x_prev of the last step: the next x_t
    for step in steps:
        reuse = previous is not None and previous[0] is step.x_t
        x_t = previous[1] if reuse else to_uint8_image(step.x_t)
        eps = to_uint8_image(step.eps_pred, -EPS_RANGE, EPS_RANGE)
        yield StepFrames(step.index, step.total, step.t, step.t_prev, x_t, to_uint8_image(step.x0_pred), eps)
        previous = (step.x_prev, to_uint8_image(step.x_prev))
        if step.t_prev < 0:
            final = previous[1]
            yield StepFrames(step.total, step.total, FINAL_T, FINAL_T, final, final, eps)


def configure_torch_threads() -> int:
    """Leave one CPU core to the window: torch's pool gets the others (at least one). Returns the count.

    On a busy two-core machine, two torch threads racing the GUI thread make every small tensor op wait for a
    descheduled helper thread; one thread is then several times faster.
    """
    threads = max(1, (os.cpu_count() or 2) - 1)
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads
