"""Small models for core tests: a fake eps-predictor with an exact answer."""

from __future__ import annotations

import numpy as np
import pytest

from diffusion_studio.models.closed_form import IdealDenoiser


@pytest.fixture
def checker_image() -> np.ndarray:
    """An 8x8 RGB uint8 checkerboard with a colour ramp: easy to recognise after denoising."""
    yy, xx = np.mgrid[0:8, 0:8]
    board = ((yy // 2 + xx // 2) % 2).astype(np.uint8) * 200 + 20
    return np.stack([board, np.uint8(10) * xx.astype(np.uint8), 255 - board], axis=-1).astype(np.uint8)


@pytest.fixture
def ideal_one(checker_image: np.ndarray) -> IdealDenoiser:
    return IdealDenoiser([checker_image], ["checker"])


class CountingModel:
    """Predicts eps = 0.1 x_t and counts its calls; optionally sets a cancel token at call k."""

    def __init__(self, cancel=None, cancel_at: int | None = None) -> None:
        self.calls = 0
        self.cancel, self.cancel_at = cancel, cancel_at

    def predict_eps(self, x_t, t, schedule, y=None):
        self.calls += 1
        if self.cancel is not None and self.calls == self.cancel_at:
            self.cancel.cancel()
        return 0.1 * x_t


@pytest.fixture
def counting_model():
    return CountingModel
