"""Small fake models for the window tests (imported by basename, like tests/core's helpers)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import torch

from diffusion_studio.models.base import ModelInfo, NoisePredictor
from diffusion_studio.runs import PreparedRun, RunRequest, prepare_run


class FakeModel(NoisePredictor):
    """Predicts eps = 0.1 x_t after sleeping ``delay`` seconds; can fail (``error``) or return NaN at a call."""

    def __init__(self, delay: float = 0.0, error: Exception | None = None, nan_at: int | None = None,
                 error_at: int = 1) -> None:
        self.info = ModelInfo(name="fake", image_size=None, channels=None, prediction="epsilon")
        self.delay, self.error, self.nan_at, self.error_at = delay, error, nan_at, error_at
        self.calls = 0

    def forward(self, x_t, t, schedule, y=None):
        self.calls += 1
        if self.delay:
            time.sleep(self.delay)
        if self.error is not None and self.calls >= self.error_at:
            raise self.error
        if self.nan_at is not None and self.calls >= self.nan_at:
            return torch.full_like(x_t, float("nan"))
        return 0.1 * x_t


def with_model(model: NoisePredictor) -> Callable[[RunRequest], PreparedRun]:
    """A ``prepare`` for MainWindow that prepares the run as usual, then swaps in ``model``."""
    return lambda request: dataclasses.replace(prepare_run(request), model=model)
