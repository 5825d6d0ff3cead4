"""Exponential moving average of a network's weights (as in DDPM's training, Ho et al. 2020, appendix B).

    theta_ema <- d theta_ema + (1 - d) theta,   d = min(decay, (1 + n) / (10 + n)) after n updates

The warm-up of d (TensorFlow's ExponentialMovingAverage with num_updates) keeps early averages from being
dominated by the random initial weights in short runs. The EMA weights are the ones that ship.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """Holds a frozen copy of ``model`` whose floating-point tensors track the model's."""

    def __init__(self, model: nn.Module, decay: float = 0.999) -> None:
        self.decay = decay
        self.updates = 0
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    def current_decay(self) -> float:
        return min(self.decay, (1.0 + self.updates) / (10.0 + self.updates))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        d = self.current_decay()
        torch._foreach_lerp_(_float_tensors(self.model), _float_tensors(model), 1.0 - d)
        self.updates += 1

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.model.state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor], updates: int) -> None:
        self.model.load_state_dict(state)
        self.updates = updates


def _float_tensors(module: nn.Module) -> list[torch.Tensor]:
    """Parameters, then floating-point buffers, in registration order (the same for a deep copy)."""
    return [*module.parameters(), *(b for b in module.buffers() if b.is_floating_point())]
