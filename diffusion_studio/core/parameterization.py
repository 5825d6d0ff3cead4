"""Conversions between the three things a network may predict: eps, x0 and v.

With x_t = sqrt(abar) x0 + sqrt(1 - abar) eps (Ho et al. 2020, eq. 4) and
v = sqrt(abar) eps - sqrt(1 - abar) x0 (Salimans & Ho 2022, "Progressive Distillation", sec. 4):
    x0  = (x_t - sqrt(1 - abar) eps) / sqrt(abar)
    eps = (x_t - sqrt(abar) x0) / sqrt(1 - abar)
    x0  = sqrt(abar) x_t - sqrt(1 - abar) v,   eps = sqrt(1 - abar) x_t + sqrt(abar) v
"""

from __future__ import annotations

from enum import Enum

import torch


class Prediction(str, Enum):
    EPSILON = "epsilon"
    SAMPLE = "sample"  # x0
    V = "v_prediction"


def x0_from_eps(x_t: torch.Tensor, eps: torch.Tensor, abar: torch.Tensor) -> torch.Tensor:
    return (x_t - (1.0 - abar).sqrt() * eps) / abar.sqrt()


def eps_from_x0(x_t: torch.Tensor, x0: torch.Tensor, abar: torch.Tensor) -> torch.Tensor:
    return (x_t - abar.sqrt() * x0) / (1.0 - abar).sqrt()


def v_from_eps_x0(eps: torch.Tensor, x0: torch.Tensor, abar: torch.Tensor) -> torch.Tensor:
    return abar.sqrt() * eps - (1.0 - abar).sqrt() * x0


def x0_from_v(x_t: torch.Tensor, v: torch.Tensor, abar: torch.Tensor) -> torch.Tensor:
    return abar.sqrt() * x_t - (1.0 - abar).sqrt() * v


def eps_from_v(x_t: torch.Tensor, v: torch.Tensor, abar: torch.Tensor) -> torch.Tensor:
    return (1.0 - abar).sqrt() * x_t + abar.sqrt() * v


def to_eps(
    output: torch.Tensor, x_t: torch.Tensor, abar: torch.Tensor, prediction: str | Prediction
) -> torch.Tensor:
    """Turn a network's raw output of the given prediction type into an eps prediction."""
    kind = Prediction(prediction)
    if kind is Prediction.EPSILON:
        return output
    if kind is Prediction.SAMPLE:
        return eps_from_x0(x_t, output, abar)
    return eps_from_v(x_t, output, abar)
