"""Two denoisers that need no training, because the optimum E[x0 | x_t] has a closed form.

Both predict x0 ("sample" prediction); :meth:`NoisePredictor.predict_eps` turns that into
eps = (x_t - sqrt(abar_t) x0_hat) / sqrt(1 - abar_t).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812

from diffusion_studio.core._coeffs import alpha_bar_at
from diffusion_studio.core.parameterization import Prediction
from diffusion_studio.core.schedules import Schedule
from diffusion_studio.models.base import ModelInfo, NoisePredictor


def _as_tensors(images: Sequence[np.ndarray]) -> list[torch.Tensor]:
    """uint8 (H, W, C) arrays, of any sizes -> float (1, C, H, W) tensors in [-1, 1]."""
    out = []
    for im in images:
        im = im if im.ndim == 3 else im[..., None]
        out.append(
            torch.from_numpy(np.ascontiguousarray(im, dtype=np.float32)).permute(2, 0, 1)[None] / 127.5 - 1
        )
    return out


def _fit(image: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Resize (1, C, H, W) to like's size (bilinear, antialiased) and channel count (luma or repeat)."""
    if like.shape[1] == 1 and image.shape[1] == 3:
        image = (image * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    elif like.shape[1] == 3 and image.shape[1] == 1:
        image = image.expand(-1, 3, -1, -1)
    if image.shape[-2:] != like.shape[-2:]:
        image = F.interpolate(
            image, size=like.shape[-2:], mode="bilinear", antialias=True, align_corners=False
        )
    return image


def ideal_info(reference_names: Sequence[str] = ()) -> ModelInfo:
    return ModelInfo(
        name="ideal",
        image_size=None,
        channels=None,
        prediction=Prediction.SAMPLE.value,
        class_names=tuple(reference_names),
        origin="closed form: the exact posterior mean over the reference images (bundled photos + yours)",
    )


def gaussian_info() -> ModelInfo:
    return ModelInfo(
        name="gaussian",
        image_size=None,
        channels=None,
        prediction=Prediction.SAMPLE.value,
        origin="closed form: the exact denoiser for a Gaussian fitted to the reference images",
    )


class _ReferenceSet:
    """Reference images (any sizes) resized on demand to x_t's size and channel count (cached per shape)."""

    def __init__(self, images: list[torch.Tensor]) -> None:
        self.images = images  # each (1, C, H, W) in [-1, 1]
        self._cache: dict[tuple, torch.Tensor] = {}

    def like(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) with x's C, H, W, dtype and device."""
        key = (x.shape[1:], x.device, x.dtype)
        if key not in self._cache:
            refs = torch.cat([_fit(im, x) for im in self.images])
            self._cache = {key: refs.to(device=x.device, dtype=x.dtype)}  # keep one shape: bounded memory
        return self._cache[key]


class IdealDenoiser(NoisePredictor):
    """The posterior mean over a finite set of reference images x_1..x_N (the optimal denoiser for that data):

        x0_hat(x_t) = sum_i w_i x_i,   w = softmax_i(-||x_t - sqrt(abar_t) x_i||^2 / (2 (1 - abar_t)))

    Works at any resolution. Its classes are the references themselves: label i asks for x_i only.
    """

    def __init__(self, references: Sequence[np.ndarray], names: Sequence[str] | None = None) -> None:
        if not references:
            raise ValueError("The ideal denoiser needs at least one reference image.")
        self.refs = _ReferenceSet(_as_tensors(references))
        names = tuple(names) if names is not None else tuple(f"image {i + 1}" for i in range(len(references)))
        self.info = ideal_info(names)

    def weights(self, x_t: torch.Tensor, t: torch.Tensor, schedule: Schedule, y: torch.Tensor | None = None):
        """The softmax weights w_i (B, N); a label restricts them to that one reference."""
        refs = self.refs.like(x_t).flatten(1)  # (N, D)
        x = x_t.flatten(1)  # (B, D)
        abar = alpha_bar_at(schedule.alpha_bars, t, x_t).reshape(-1, 1)
        # ||x - sqrt(abar) r||^2 = ||x||^2 - 2 sqrt(abar) x.r + abar ||r||^2
        d2 = (x * x).sum(1, keepdim=True) - 2 * abar.sqrt() * (x @ refs.T) + abar * (refs * refs).sum(1)[None]
        logits = -d2 / (2 * (1 - abar))
        if y is not None:
            conditional = y < len(self.info.class_names)
            mask = torch.full_like(logits, float("-inf"))
            mask[torch.arange(len(y)), y.clamp(max=logits.shape[1] - 1)] = 0.0
            logits = torch.where(conditional[:, None], logits + mask, logits)
        return torch.softmax(logits, dim=1)

    def forward(self, x_t, t, schedule, y=None):
        w = self.weights(x_t, t, schedule, y)
        refs = self.refs.like(x_t)
        return (w @ refs.flatten(1)).view_as(x_t)


class GaussianDenoiser(NoisePredictor):
    """The exact denoiser for Gaussian data x0 ~ N(mu, diag(s^2)) (per pixel):

        x0_hat = mu + sqrt(abar) s^2 / (abar s^2 + 1 - abar) (x_t - sqrt(abar) mu)

    Fitted to reference images (their per-pixel mean and variance), it shows what "denoising" means when
    the data has no structure beyond its first two moments: a blurry average that sharpens toward mu.
    """

    def __init__(self, references: Sequence[np.ndarray], min_std: float = 0.05) -> None:
        if not references:
            raise ValueError("The Gaussian denoiser needs at least one reference image.")
        tensors = _as_tensors(references)
        data = torch.cat([_fit(im, tensors[0]) for im in tensors])  # moments at the first image's size
        var = data.var(0, unbiased=False, keepdim=True) if len(data) > 1 else torch.zeros_like(data[:1])
        self.mean = _ReferenceSet([data.mean(0, keepdim=True)])
        self.var = _ReferenceSet([var.clamp(min=min_std**2)])
        self.info = gaussian_info()

    def forward(self, x_t, t, schedule, y=None):
        mu, var = self.mean.like(x_t)[:1], self.var.like(x_t)[:1]
        abar = alpha_bar_at(schedule.alpha_bars, t, x_t)
        gain = abar.sqrt() * var / (abar * var + (1 - abar))
        return mu + gain * (x_t - abar.sqrt() * mu)
