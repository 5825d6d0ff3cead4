"""Spectrum lens: radially averaged power spectra of x_t, x0-hat and eps-hat, with the noise floor of the step.

Dieleman 2024, "Diffusion is spectral autoregression": natural images have power falling off as a power law in
frequency, while the noise added by x_t = sqrt(abar) x0 + sqrt(1 - abar) eps is white at power (1 - abar). So at
each step the signal sqrt(abar) x0 is drowned above some frequency (where abar P_x0(f) = 1 - abar) and a sampler
decides coarse structure first and fine detail last. The crossover frequency moves up as t goes down.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch


def _as_numpy(x: torch.Tensor | np.ndarray) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().to("cpu", torch.float64).numpy()
    return np.asarray(x, dtype=np.float64)


@lru_cache(maxsize=8)
def _rings(h: int, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """For an (h, w) picture's half spectrum (``rfft2``, columns 0..w//2): the flat indices of the entries in rings
    1..n//2, their ring numbers, how many times each stands in the full spectrum (1 for column 0 and, w even, the
    column w/2; 2 for the others, whose mirror images |F(-u, -v)| = |F(u, v)| of a real picture are left out),
    and n = min(h, w). Computed once per picture size."""
    fy, fx = np.fft.fftfreq(h)[:, None], np.fft.rfftfreq(w)[None, :]
    n = min(h, w)
    ring = np.rint(np.sqrt(fy**2 + fx**2) * n).astype(np.int64)  # ring k holds |f| ~ k / n
    mult = np.full(ring.shape, 2.0)
    mult[:, 0] = 1.0
    if w % 2 == 0:
        mult[:, w // 2] = 1.0
    keep = np.flatnonzero((ring >= 1) & (ring <= n // 2))
    return keep, ring.ravel()[keep], mult.ravel()[keep], n


def _power(a: np.ndarray) -> np.ndarray:
    """|FFT2|^2 / (H W) of pictures (N, H, W), half spectrum (see :func:`_rings`), averaged over the N."""
    h, w = a.shape[-2:]
    return (np.abs(np.fft.rfft2(a)) ** 2).mean(axis=0) / (h * w)


def _radial(power: np.ndarray, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    keep, ring, mult, n = _rings(h, w)
    k_max = n // 2
    sums = np.bincount(ring, weights=power.ravel()[keep] * mult, minlength=k_max + 1)
    counts = np.bincount(ring, weights=mult, minlength=k_max + 1)
    k = np.arange(1, k_max + 1)
    return k / n, sums[1:] / np.maximum(counts[1:], 1)


def radial_power_spectrum(x: torch.Tensor | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(frequencies in cycles per pixel, power) of images (..., H, W), averaged over all leading axes.

    Power is |FFT2(x)|^2 / (H W) (Parseval: its mean over all frequencies is the mean of x^2), averaged over
    rings of width 1/min(H, W) around the origin; the DC term is left out. White noise of variance s^2 is flat
    at s^2. The highest ring is the Nyquist frequency 0.5 (corners beyond it are left out). A real picture's
    spectrum is symmetric, so the half spectrum of ``rfft2`` is summed with each entry counted for its mirror.
    """
    a = _as_numpy(x)
    h, w = a.shape[-2:]
    return _radial(_power(a.reshape(-1, h, w)), h, w)


@dataclass(frozen=True)
class StepSpectrum:
    """The spectra of one step and where its signal meets its noise."""

    freqs: np.ndarray  # cycles per pixel
    x_t: np.ndarray
    x0: np.ndarray
    eps: np.ndarray
    alpha_bar: float
    noise_floor: float  # 1 - abar: the power of sqrt(1 - abar) eps for white unit eps
    signal: np.ndarray  # abar P_x0(f): the power of the signal part of x_t, as the model sees it
    crossover: float | None  # the frequency where signal falls to the noise floor; None if it never does


def crossover_frequency(freqs: np.ndarray, signal: np.ndarray, floor: float) -> float | None:
    """The first frequency at which ``signal`` falls to ``floor``, interpolated log-log between two rings.

    The lowest frequency if the signal is already below the floor there; None if it stays above everywhere.
    """
    below = np.nonzero(signal <= floor)[0]
    if len(below) == 0:
        return None
    j = int(below[0])
    if j == 0:
        return float(freqs[0])
    ls0, ls1 = np.log(max(signal[j - 1], 1e-300)), np.log(max(signal[j], 1e-300))
    frac = (ls0 - np.log(floor)) / (ls0 - ls1) if ls0 != ls1 else 0.0
    return float(np.exp(np.log(freqs[j - 1]) + frac * (np.log(freqs[j]) - np.log(freqs[j - 1]))))


def step_spectrum(x_t, x0_pred, eps_pred, alpha_bar: float) -> StepSpectrum:
    """Spectra of one step's x_t, x0-hat and eps-hat (tensors (B, C, H, W) or arrays), its floor and crossover.

    The three are transformed in one batched FFT when they have the same shape (the usual case)."""
    arrays = [_as_numpy(v) for v in (x_t, x0_pred, eps_pred)]
    if all(a.shape == arrays[0].shape for a in arrays):
        h, w = arrays[0].shape[-2:]
        both = np.fft.rfft2(np.stack([a.reshape(-1, h, w) for a in arrays]))  # (3, N, H, W // 2 + 1)
        power = (np.abs(both) ** 2).mean(axis=1) / (h * w)
        (freqs, p_xt), (_, p_x0), (_, p_eps) = (_radial(p, h, w) for p in power)
    else:
        (freqs, p_xt), (_, p_x0), (_, p_eps) = (radial_power_spectrum(a) for a in arrays)
    floor = 1.0 - float(alpha_bar)
    signal = float(alpha_bar) * p_x0
    return StepSpectrum(
        freqs, p_xt, p_x0, p_eps, float(alpha_bar), floor, signal, crossover_frequency(freqs, signal, floor)
    )
