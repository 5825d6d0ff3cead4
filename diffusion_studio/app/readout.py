"""Raw values for the canvas readout (no Qt): the numbers behind a pixel, before display clipping.

The panes show uint8 pictures clipped to their display range (x: −1..1, ε: −3..3); at t = T−1 most of x_t lies
outside [−1, 1], so a readout of the picture would disagree with ε. In the forward view every value is known
exactly: x_t = √ᾱ_t·x₀ + √(1−ᾱ_t)·ε (Ho et al. 2020, eq. 4) at one pixel costs a few multiplies. A run's steps
give their raw values while the frame store keeps them as tensors.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence

import numpy as np
import torch

from diffusion_studio.app.forward_view import ForwardProcess
from diffusion_studio.session.frames import StepFrames

RawSource = Callable[[int, int], Sequence[np.ndarray | None]]
"""(row, col) -> one value array (per channel) for each pane, or None where only the picture is known."""


def forward_readout(process: ForwardProcess, t: int, middle_is_x0: bool = True) -> RawSource:
    """The raw x_t, x₀ and ε of the forward view at ``t`` (t < 0: the clean picture)."""
    a = 1.0 if t < 0 else float(process.schedule.sqrt_alpha_bars[t])
    b = 0.0 if t < 0 else float(process.schedule.sqrt_one_minus_alpha_bars[t])

    def at(row: int, col: int) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        x0 = process.image[row, col].astype(np.float64) / 127.5 - 1.0
        eps = process.eps[row, col].astype(np.float64)
        return a * x0 + b * eps, (x0 if middle_is_x0 else None), eps

    return at


def frame_readout(frame: StepFrames) -> RawSource:
    """The raw values of a recorded step where the run kept them as tensors (None per pane once a frame holds
    pictures only, or once the store let the frame go: the readout then marks values at the display bounds).

    Only a weak reference is held: a frame kept alive here would stop the next run from reusing its store's block.
    """
    held = weakref.ref(frame)

    def at(row: int, col: int) -> list[np.ndarray | None]:
        values: list[np.ndarray | None] = []
        frame = held()
        for pane in range(3):
            tensor = frame.tensor(pane) if frame is not None else None
            ok = tensor is not None and tensor.shape[0] == 1 and row < tensor.shape[2] and col < tensor.shape[3]
            values.append(tensor[0, :, row, col].detach().to("cpu", torch.float64).numpy() if ok else None)
        return values

    return at
