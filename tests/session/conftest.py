"""Fast stand-ins for the session tests: a closed-form eps model that counts what it evaluates."""

from __future__ import annotations

import pytest
import torch

from diffusion_studio.core.plan import SamplingPlan
from diffusion_studio.core.schedules import make_schedule
from diffusion_studio.models.base import ModelInfo
from diffusion_studio.session.request import PreparedRun


class FakeModel:
    """eps = 0.5 x_t + 0.01 (t / T) + 0.1 y: cheap, deterministic, and counts single-picture evaluations."""

    def __init__(self, name: str = "fake", classes: tuple[str, ...] = ()) -> None:
        self.info = ModelInfo(name=name, image_size=None, channels=None, class_names=classes)
        self.evaluations = 0
        self.calls = 0

    def predict_eps(self, x_t, t, schedule, y=None):
        self.calls += 1
        self.evaluations += int(x_t.shape[0])
        eps = 0.5 * x_t + 0.01 * (t.float() / schedule.T).view(-1, 1, 1, 1)
        if y is not None:
            eps = eps + 0.1 * y.float().view(-1, 1, 1, 1)
        return eps

    def to(self, device):
        return self


def fake_prepared(model: FakeModel | None = None, shape=(1, 8, 8), T: int = 100, **plan) -> PreparedRun:  # noqa: N803
    sched = make_schedule("linear", T)
    p = SamplingPlan(**plan)
    return PreparedRun(model or FakeModel(), sched, shape, None, None, p.checked(sched), torch.device("cpu"))


@pytest.fixture
def fake_model() -> FakeModel:
    return FakeModel()
