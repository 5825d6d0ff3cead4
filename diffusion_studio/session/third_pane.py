"""What the third reverse pane shows (no Qt): the predicted noise, v-hat, or the flow velocity.

Only eps-hat is recorded; v-hat and the flow velocity are derived from a frame's x0-hat and eps-hat and the
noise level they were predicted at (:attr:`StepFrames.pred_abar`) when the pane is painted or exported, so
recording costs nothing extra (formulas and citations in :mod:`diffusion_studio.core.velocity`). A frame that
keeps tensors gives exact values; a frame compacted to uint8 pictures (memory short) is decoded
from its x0 and eps pictures first: within about one grey level of the exact picture, except where eps was
beyond the +-3 of its picture (about 0.3 % of Gaussian noise).

The finished frame (t = -1) shows the last step's quantity, as the eps pane does: its eps-hat and (for v) the
last step's noise level with the finished picture, which is that step's x0-hat for every sampler here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np
import torch

from diffusion_studio.core.velocity import flow_velocity, v_hat
from diffusion_studio.errors import OptionError
from diffusion_studio.io.frames import EPS_RANGE, FLOW_RANGE, V_RANGE, to_uint8_batch
from diffusion_studio.session.frames import StepFrames, to_uint8_image


class ThirdPane(str, Enum):
    """The closed set of things the third pane can show."""

    EPS = "eps"  # eps-hat, the model's noise prediction (recorded)
    V = "v"  # v-hat = sqrt(abar) eps-hat - sqrt(1 - abar) x0-hat (Salimans & Ho 2022)
    FLOW = "flow"  # eps-hat - x0-hat, d/ds of x_t / (sqrt(abar) + sqrt(1 - abar)) (rectified flow)

    @classmethod
    def parse(cls, name: str | ThirdPane) -> ThirdPane:
        try:
            return cls(name)
        except ValueError:
            names = ", ".join(m.value for m in cls)
            raise OptionError(f"Unknown pane '{name}'; choose one of {names}.") from None


@dataclass(frozen=True)
class PaneText:
    """How a pane is named: ``title`` (plain, for exports), ``name`` (the readout's), ``tip`` (hover help)."""

    title: str
    name: str
    tip: str
    value_range: tuple[float, float]


TEXTS = {
    ThirdPane.EPS: PaneText(
        "ε̂ predicted noise", "pred. ε",
        "ε̂_θ(x_t, t): the noise the model sees in x_t (shown from −3 to +3: mid-grey is 0)",
        (-EPS_RANGE, EPS_RANGE)),
    ThirdPane.V: PaneText(
        "v̂ predicted velocity", "pred. v",
        "v̂ = √ᾱ_t·ε̂ − √(1−ᾱ_t)·x̂₀ (Salimans & Ho 2022): what a v-prediction network would output here. "
        f"Near pure noise v̂ ≈ −x̂₀, near the end v̂ ≈ ε̂. Shown from −{V_RANGE:g} to +{V_RANGE:g}: mid-grey is 0. "
        "At the finished sample: the last step's v̂.",
        (-V_RANGE, V_RANGE)),
    ThirdPane.FLOW: PaneText(
        "ε̂ − x̂₀ flow velocity", "flow ε−x₀",
        "ε̂ − x̂₀ = dy/ds for y = x_t/(√ᾱ+√(1−ᾱ)) = (1−s)·x₀ + s·ε, s = √(1−ᾱ)/(√ᾱ+√(1−ᾱ)): the velocity "
        "of the straight path from x̂₀ (s = 0) to ε̂ (s = 1), as a flow-matching model predicts it (Liu et al. "
        "2023; Lipman et al. 2023). DDIM (η = 0) is Euler along it. "
        f"Shown from −{FLOW_RANGE:g} to +{FLOW_RANGE:g}: mid-grey is 0. At the finished sample: the last step's.",
        (-FLOW_RANGE, FLOW_RANGE)),
}


def frame_abar(frame: StepFrames, fallback: float | None = None) -> float | None:
    """The noise level the frame's predictions were made at: its own, else ``fallback`` (e.g. abar_t)."""
    return frame.pred_abar if frame.pred_abar is not None else fallback


def _derive(kind: ThirdPane, x0, eps, abar: float | None):
    if kind is ThirdPane.FLOW:
        return flow_velocity(x0, eps)
    if abar is None:
        raise ValueError("v-hat needs the noise level the frame was predicted at.")
    return v_hat(x0, eps, abar)


def pane_values(frame: StepFrames, kind: ThirdPane | str, abar: float | None = None) -> torch.Tensor | None:
    """The pane's raw values (B, C, H, W) float32 from the frame's tensors; None once it holds pictures only.

    ``abar`` is used when the frame does not carry its own noise level (:func:`frame_abar`).
    """
    kind = ThirdPane.parse(kind)
    eps = frame.tensor(2)
    if kind is ThirdPane.EPS or eps is None:
        return eps
    x0 = frame.tensor(1)
    if x0 is None:
        return None
    return _derive(kind, x0.float(), eps.float(), frame_abar(frame, abar))


def pane_picture(frame: StepFrames, kind: ThirdPane | str, abar: float | None = None) -> np.ndarray:
    """The pane as a contiguous (H, W, C) uint8 picture in its display range (:data:`TEXTS`)."""
    kind = ThirdPane.parse(kind)
    if kind is ThirdPane.EPS:
        return frame.eps
    lo, hi = TEXTS[kind].value_range
    values = pane_values(frame, kind, abar)
    if values is not None:
        return to_uint8_image(values, lo, hi)
    return _from_pictures(frame, kind, frame_abar(frame, abar), lo, hi)


def _from_pictures(frame: StepFrames, kind: ThirdPane, abar: float | None, lo: float, hi: float) -> np.ndarray:
    """Decode the uint8 x0 (-1..1) and eps (-3..3) pictures, derive, encode; the white tiling gaps stay white."""
    x0_pic, eps_pic = frame.x0, frame.eps
    x0 = torch.from_numpy(x0_pic.astype(np.float32) * (2.0 / 255.0) - 1.0)
    eps = torch.from_numpy(eps_pic.astype(np.float32) * (2 * EPS_RANGE / 255.0) - EPS_RANGE)
    values = _derive(kind, x0, eps, abar)  # (H, W, C): the arithmetic is elementwise
    out = to_uint8_batch(values.permute(2, 0, 1)[None], lo, hi)[0]
    gap = np.all((x0_pic == 255) & (eps_pic == 255), axis=2)
    out[gap] = 255
    return out


def pixel_values(frame: StepFrames, kind: ThirdPane | str, row: int, col: int,
                 abar: float | None = None) -> np.ndarray | None:
    """The pane's raw value per channel at one pixel of a single picture (float64), for the hover readout; None
    when the frame holds pictures only, is a batch, or the pixel lies outside."""
    kind = ThirdPane.parse(kind)
    x0, eps = frame.tensor(1), frame.tensor(2)
    if x0 is None or eps is None or eps.shape[0] != 1 or row >= eps.shape[2] or col >= eps.shape[3]:
        return None
    e = eps[0, :, row, col].detach().to("cpu", torch.float64)
    if kind is ThirdPane.EPS:
        return e.numpy()
    x = x0[0, :, row, col].detach().to("cpu", torch.float64)
    return _derive(kind, x, e, frame_abar(frame, abar)).numpy()
