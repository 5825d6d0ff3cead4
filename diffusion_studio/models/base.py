"""The one small interface for everything that predicts noise, and the facts a model states about itself."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import torch

from diffusion_studio.core._coeffs import alpha_bar_at
from diffusion_studio.core.parameterization import Prediction, to_eps
from diffusion_studio.core.schedules import Schedule, schedule_from_spec


@dataclass(frozen=True)
class ModelInfo:
    """What a model states about itself; shown by ``diffusion-studio models`` and in the app."""

    name: str
    image_size: int | None  # side of the square images it was trained on; None = any size
    channels: int | None  # 1 (grey) or 3 (RGB); None = any
    prediction: str = (
        Prediction.EPSILON.value
    )  # what the network outputs: epsilon, sample (x0) or v_prediction
    class_names: tuple[str, ...] = ()  # empty for an unconditional model
    schedule: dict | None = None  # spec of the training schedule; None = works with any schedule
    origin: str = ""  # one line: where it comes from (closed form, built-in, a path)
    licence: str = ""  # licence of the weights / training data, if any
    parameters: int = 0  # number of learned parameters
    extra: dict = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def null_class(self) -> int:
        """The label that means "no class" for classifier-free guidance (one past the last class)."""
        return len(self.class_names)

    def training_schedule(self) -> Schedule | None:
        return None if self.schedule is None else schedule_from_spec(self.schedule)


class NoisePredictor(ABC):
    """eps_theta(x_t, t[, y]): input x_t (B, C, H, W) in [-1, 1] scale, t (B,) long, optional labels y (B,) long.

    ``y`` may hold ``info.null_class`` to ask for the unconditional prediction (classifier-free guidance).
    Subclasses implement :meth:`forward` (the raw output, in ``info.prediction`` form); callers use
    :meth:`predict_eps`, which converts it to eps.
    """

    info: ModelInfo

    @abstractmethod
    def forward(
        self, x_t: torch.Tensor, t: torch.Tensor, schedule: Schedule, y: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The model's raw prediction (eps, x0 or v, as ``info.prediction`` says)."""

    @torch.no_grad()
    def predict_eps(
        self, x_t: torch.Tensor, t: torch.Tensor, schedule: Schedule, y: torch.Tensor | None = None
    ) -> torch.Tensor:
        out = self.forward(x_t, t, schedule, y)
        return to_eps(out, x_t, alpha_bar_at(schedule.alpha_bars, t, x_t), self.info.prediction)

    def to(self, device: torch.device | str) -> NoisePredictor:  # noqa: B027 - optional override
        """Move to a device (models without tensors ignore it)."""
        return self

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")
