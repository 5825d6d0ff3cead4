"""What a step's prediction says about the direction of travel: v-hat and the flow velocity.

Notation (VP scale, as every :class:`~diffusion_studio.core.samplers.Step`): x_t = a x0 + b eps with
a = sqrt(abar_t), b = sqrt(1 - abar_t); x0-hat and eps-hat are the step's predictions.

v-prediction (Salimans & Ho 2022, "Progressive Distillation", sec. 4 and appendix D):
    v-hat = a eps-hat - b x0-hat

DDIM is Euler on the probability-flow ODE in rescaled coordinates (Song et al. 2021 "DDIM", eq. 14; Karras et
al. 2022, eq. 4 with s(t) = 1): with x-bar = x_t / a and sigma = b / a = sqrt((1 - abar) / abar),
    d x-bar / d sigma = eps-hat(x-bar, sigma),
and one Euler step x-bar_prev = x-bar_t + (sigma_prev - sigma_t) eps-hat is the deterministic DDIM step (eta = 0).

The flow velocity (the pane this module's :func:`flow_velocity` feeds): divide x_t by a + b instead,
    y = x_t / (a + b) = (1 - s) x0 + s eps,   s = b / (a + b) = sigma / (1 + sigma)   (s: 0 clean, 1 noise),
the straight-line interpolation of rectified flow / flow matching (Liu et al. 2023; Lipman et al. 2023; the
convention of Esser et al. 2024, Stable Diffusion 3). Along the same ODE dy/ds = eps-hat - x0-hat, and an Euler
step in (y, s) is again exactly the DDIM step, because with the prediction held fixed the path is a straight line
in both coordinates. So eps-hat - x0-hat is the velocity a flow-matching model would predict at this point.
"""

from __future__ import annotations

import math
from typing import TypeVar

import numpy as np
import torch

Array = TypeVar("Array", torch.Tensor, np.ndarray)


def rescaled_sigma(abar: float) -> float:
    """sigma = sqrt((1 - abar) / abar): the noise level of x_t / sqrt(abar) (Karras et al. 2022, VP); 0 at abar 1."""
    return math.sqrt(max(1.0 - abar, 0.0) / abar)


def flow_time(abar: float) -> float:
    """s = sqrt(1 - abar) / (sqrt(abar) + sqrt(1 - abar)): where x_t / (a + b) sits between x0 (0) and eps (1)."""
    a, b = math.sqrt(abar), math.sqrt(max(1.0 - abar, 0.0))
    return b / (a + b)


def v_hat(x0: Array, eps: Array, abar: float) -> Array:
    """v-hat = sqrt(abar) eps-hat - sqrt(1 - abar) x0-hat (Salimans & Ho 2022, sec. 4); torch or numpy."""
    a, b = math.sqrt(abar), math.sqrt(max(1.0 - abar, 0.0))
    if isinstance(eps, torch.Tensor):  # one new tensor, not three: it is made at every paint
        return torch.mul(eps, a).sub_(x0, alpha=b)
    return a * eps - b * x0


def flow_velocity(x0: Array, eps: Array) -> Array:
    """dy/ds = eps-hat - x0-hat for y = x_t / (sqrt(abar) + sqrt(1 - abar)) = (1 - s) x0 + s eps (module notes)."""
    return eps - x0


def ddim_as_euler(x_t: torch.Tensor, eps: torch.Tensor, abar_t: float, abar_prev: float) -> torch.Tensor:
    """x_prev from one Euler step of d x-bar / d sigma = eps-hat in the rescaled coordinates, back in VP scale:

        x-bar_t = x_t / sqrt(abar_t),  x-bar_prev = x-bar_t + (sigma_prev - sigma_t) eps-hat,
        x_prev = sqrt(abar_prev) x-bar_prev

    Equal to :func:`~diffusion_studio.core.steps.ddim_step` with eta = 0 (and x0 not clipped) up to rounding.
    """
    x_bar = x_t / math.sqrt(abar_t)
    x_bar_prev = x_bar + (rescaled_sigma(abar_prev) - rescaled_sigma(abar_t)) * eps
    return math.sqrt(abar_prev) * x_bar_prev
