"""Turn sampler tensors into the uint8 pictures that the app, GIFs and sheets show."""

from __future__ import annotations

import math

import numpy as np
import torch

from diffusion_studio.io.images import tensor_to_uint8

EPS_RANGE = 3.0  # eps ~ N(0, I) is shown from -3 (black) to +3 (white), so mid-grey is 0
# v-hat = sqrt(abar) eps - sqrt(1 - abar) x0 rotates (x0, eps): |v| <= sqrt(eps^2 + x0^2), its variance that of eps
# or of x0, so it shares eps's -3..3 (a digits run: 99.9 % of |v| below 2.8); eps - x0 adds them: its variance is
# up to 2 (digits: 99.9 % of |eps - x0| below 4.0), so -4..4
V_RANGE = 3.0
FLOW_RANGE = 4.0
PANELS = ("x_t", "x0", "eps")  # what a recorded step holds
DERIVED_PANELS = ("v", "flow")  # made from x0 and eps when shown (session/third_pane.py)
EXPORT_PANELS = PANELS + DERIVED_PANELS


def to_uint8_batch(x: torch.Tensor, lo: float = -1.0, hi: float = 1.0) -> np.ndarray:
    """(B, C, H, W) in [lo, hi] -> contiguous (B, H, W, C) uint8, clamped and rounded half up.

    Four passes over the data (scale+shift, clamp, one strided copy into uint8); it runs once per streamed
    panel in the app, so it is kept lean.
    """
    scale = 255.0 / (hi - lo)
    y = x.detach().to("cpu", torch.float32).mul(scale).add_(0.5 - lo * scale).clamp_(0.0, 255.0)
    b, c, h, w = y.shape
    out = torch.empty((b, h, w, c), dtype=torch.uint8)
    out.copy_(y.permute(0, 2, 3, 1))  # truncation of values >= 0 after +0.5: round half up
    return out.numpy()


def tile(images: np.ndarray, gap: int = 2, fill: int = 255) -> np.ndarray:
    """(B, H, W, C) uint8 -> one near-square grid image; a single image comes back unchanged."""
    b, h, w, c = images.shape
    if b == 1:
        return images[0]
    cols = math.ceil(math.sqrt(b))
    rows = math.ceil(b / cols)
    out = np.full((rows * h + (rows - 1) * gap, cols * w + (cols - 1) * gap, c), fill, np.uint8)
    for i in range(b):
        r, q = divmod(i, cols)
        out[r * (h + gap) : r * (h + gap) + h, q * (w + gap) : q * (w + gap) + w] = images[i]
    return out


def panel_images(x_t: torch.Tensor, x0: torch.Tensor | None, eps: torch.Tensor | None, panels=PANELS):
    """The chosen panels of one step as uint8 grids: x_t and x0 in [-1, 1], eps in [-3, 3]."""
    out = []
    for name in panels:
        if name == "x_t":
            out.append(tile(to_uint8_batch(x_t)))
        elif name == "x0" and x0 is not None:
            out.append(tile(to_uint8_batch(x0)))
        elif name == "eps" and eps is not None:
            out.append(tile(to_uint8_batch(eps, -EPS_RANGE, EPS_RANGE)))
    return out


__all__ = ["DERIVED_PANELS", "EPS_RANGE", "EXPORT_PANELS", "FLOW_RANGE", "PANELS", "V_RANGE", "panel_images",
           "tensor_to_uint8", "tile", "to_uint8_batch"]
