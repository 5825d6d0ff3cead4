"""The numbers of "DDIM is Euler on the rescaled ODE" at one recorded step, for the maths panel (no Qt).

With x-bar = x_t / sqrt(abar) and sigma = sqrt((1 - abar) / abar), d x-bar / d sigma = eps-hat (Song et al. 2021
"DDIM" eq. 14; Karras et al. 2022 eq. 4), and one Euler step x-bar_prev = x-bar_t + (sigma_prev - sigma_t) eps-hat
is the deterministic DDIM step (:mod:`diffusion_studio.core.velocity`). Given a step's frame and the next one
(whose x_t is this step's output), :func:`flow_numbers` says how far the recorded step is from that Euler step:
rounding for DDIM (eta = 0) and Euler, the fresh noise for DDPM, the correction for Heun and DPM-Solver++.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from diffusion_studio.core.velocity import flow_time, rescaled_sigma
from diffusion_studio.session.frames import StepFrames


@dataclass(frozen=True)
class FlowNumbers:
    """The step's noise levels in both coordinates and, where the tensors are kept, the Euler check.

    ``gap``: max |recorded x-bar_prev - Euler x-bar_prev| using eps-hat; ``implied_gap``: the same using the eps
    implied by the (possibly clipped) x0-hat; ``size``: max |x-bar_prev|, for scale; ``tolerance``: what rounding
    explains (the store may keep float16). None where not computed.
    """

    abar_t: float
    abar_prev: float
    gap: float | None = None
    implied_gap: float | None = None
    size: float | None = None
    tolerance: float = 0.0

    def same(self, gap: float | None) -> bool:
        """True when ``gap`` is rounding: the recorded step is the Euler step."""
        return gap is not None and gap <= self.tolerance

    @property
    def sigma_t(self) -> float:
        return rescaled_sigma(self.abar_t)

    @property
    def sigma_prev(self) -> float:
        return rescaled_sigma(self.abar_prev)

    @property
    def s_t(self) -> float:
        return flow_time(self.abar_t)

    @property
    def s_prev(self) -> float:
        return flow_time(self.abar_prev)


def flow_numbers(frame: StepFrames, after: StepFrames | None, abar_t: float, abar_prev: float) -> FlowNumbers:
    """The numbers of the step ``frame`` (t -> t_prev); ``after`` is the next recorded frame (its x_t is this
    step's output) or None. The frames' own noise levels, where they carry them, override ``abar_t``/``abar_prev``.
    """
    if frame.pred_abar is not None:
        abar_t = frame.pred_abar
    if after is not None and not after.is_final and after.pred_abar is not None:
        abar_prev = after.pred_abar
    if after is not None and after.is_final:
        abar_prev = 1.0
    x_t, x0, eps = frame.tensor(0), frame.tensor(1), frame.tensor(2)
    x_prev = after.tensor(0) if after is not None and after.index == frame.index + 1 else None
    if frame.is_final or x_t is None or x0 is None or eps is None or x_prev is None:
        return FlowNumbers(abar_t, abar_prev)
    resolution = max(torch.finfo(v.dtype).eps for v in (x_t, x0, eps, x_prev))
    x_t, x0, eps, x_prev = (v.to("cpu", torch.float32) for v in (x_t, x0, eps, x_prev))
    a_t, b_t, a_prev = abar_t**0.5, (1.0 - abar_t) ** 0.5, abar_prev**0.5
    step = rescaled_sigma(abar_prev) - rescaled_sigma(abar_t)
    # recorded x-bar_prev - x-bar_t, in place (a few passes, one new tensor: this runs as the playhead moves)
    moved = x_prev.mul(1.0 / a_prev).sub_(x_t, alpha=1.0 / a_t)
    gap = float(moved.sub(eps, alpha=step).abs_().max())  # minus (sigma_prev - sigma_t) eps-hat
    # minus the same step along the eps implied by x0-hat, (x_t - a x0) / b
    implied = float(moved.sub_(x_t, alpha=step / b_t).add_(x0, alpha=step * a_t / b_t).abs_().max())
    size = float(x_prev.abs().max()) / a_prev
    scale = max(size, float(x_t.abs().max()) / a_t, abs(step) * float(eps.abs().max()), 1.0)
    tolerance = 16 * max(resolution, torch.finfo(torch.float32).eps) * scale  # rounding: measured up to 3x
    return FlowNumbers(abar_t, abar_prev, gap, implied, size, tolerance)
