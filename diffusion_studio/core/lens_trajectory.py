"""Trajectory lens: the path of x_t (or x0-hat) through a run, projected on its first principal components.

Chen et al. 2023, "A geometric perspective on diffusion models": the sampling trajectory of the probability-flow
ODE is nearly a straight line in a low-dimensional subspace, and the x0-hat (denoising) trajectory settles long
before x_t does. Several runs (a comparison, branches) are fitted together and share one projection.

PCA of the stacked, centred frames X (N x D): X = U S V^T, coordinates U S (first k columns), explained variance
S_i^2 / ||X||_F^2. A randomized range finder (Halko, Martinsson & Tropp 2011, Algorithms 4.3 and 5.1) with a
fixed seed gives the leading components of a 1000-step run of 32x32 RGB in well under a second, deterministically.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class TrajectoryPCA:
    """``coords[r]``: run r's frames projected, (n_r, k). ``components``: (k, D). ``explained``: variance ratios."""

    coords: list[np.ndarray]
    components: np.ndarray
    explained: np.ndarray
    mean: np.ndarray

    def project(self, frames: torch.Tensor | np.ndarray) -> np.ndarray:
        """Frames (n, ...) of another run in this projection, (n, k)."""
        flat = _flatten(frames).numpy()
        return (flat - self.mean) @ self.components.T


def _flatten(frames: torch.Tensor | np.ndarray | Sequence) -> torch.Tensor:
    if isinstance(frames, (list, tuple)):
        frames = torch.stack([torch.as_tensor(f) for f in frames])
    t = torch.as_tensor(frames).detach().to("cpu", torch.float32)
    return t.reshape(t.shape[0], -1)


def _top_components(x: torch.Tensor, k: int, oversample: int = 8, iters: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """(singular values (k,), right singular vectors (k, D)) of the centred x, by a seeded randomized SVD."""
    n, d = x.shape
    q = min(k + oversample, n, d)
    if q >= min(n, d):  # small: exact SVD
        _, s, vh = torch.linalg.svd(x, full_matrices=False)
        return s[:k], vh[:k]
    g = torch.Generator().manual_seed(0)
    y = x @ torch.randn(d, q, generator=g, dtype=x.dtype)
    for _ in range(iters):  # power iterations with re-orthonormalisation (Halko et al. Algorithm 4.4)
        y, _ = torch.linalg.qr(y)
        y, _ = torch.linalg.qr(x @ (y.T @ x).T)
    b = y.T @ x  # (q, D)
    _, s, vh = torch.linalg.svd(b, full_matrices=False)
    return s[:k], vh[:k]


def trajectory_pca(runs: Sequence[torch.Tensor | np.ndarray], k: int = 2) -> TrajectoryPCA:
    """Fit one PCA to all frames of all ``runs`` (each (n_r, ...) with the same frame shape) and project each run.

    Signs are fixed so that each component points from the first run's first frame towards its last frame
    (a run reads left to right), or, failing that, has a positive largest loading.
    """
    flats = [_flatten(r) for r in runs]
    if not flats or any(f.shape[1] != flats[0].shape[1] for f in flats):
        raise ValueError("trajectory_pca needs runs whose frames all have the same shape")
    x = torch.cat(flats)
    mean = x.mean(0)
    xc = x - mean
    k = max(1, min(k, *xc.shape))
    s, vh = _top_components(xc, k)
    total = float(torch.linalg.vector_norm(xc.double() if xc.numel() < 1_000_000 else xc)) ** 2
    explained = (s.double() ** 2 / total).numpy() if total > 0 else np.zeros(k)
    comps = vh.to(torch.float64)
    direction = (flats[0][-1] - flats[0][0]).double()
    for i in range(k):
        dot = float(comps[i] @ direction)
        if dot < 0 or (dot == 0 and float(comps[i][comps[i].abs().argmax()]) < 0):
            comps[i] = -comps[i]
    projected = (xc @ comps.to(xc.dtype).T).double().numpy()
    coords = list(np.split(projected, np.cumsum([len(f) for f in flats])[:-1]))
    return TrajectoryPCA(coords, comps.numpy(), explained, mean.double().numpy())
