"""Spectrum lens: radially averaged power spectra of x_t, x0-hat and eps-hat, with the noise floor of the step.

Dieleman 2024, "Diffusion is spectral autoregression": natural images have power falling off as a power law in
frequency, while the noise added by x_t = sqrt(abar) x0 + sqrt(1 - abar) eps is white at power (1 - abar). So at
each step the signal sqrt(abar) x0 is drowned above some frequency (where abar P_x0(f) = 1 - abar) and a sampler
decides coarse structure first and fine detail last. The crossover frequency moves up as t goes down.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


def _as_numpy(x: torch.Tensor | np.ndarray) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().to("cpu", torch.float64).numpy()
    return np.asarray(x, dtype=np.float64)


def radial_power_spectrum(x: torch.Tensor | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(frequencies in cycles per pixel, power) of images (..., H, W), averaged over all leading axes.

    Power is |FFT2(x)|^2 / (H W) (Parseval: its mean over all frequencies is the mean of x^2), averaged over
    rings of width 1/min(H, W) around the origin; the DC term is left out. White noise of variance s^2 is flat
    at s^2. The highest ring is the Nyquist frequency 0.5 (corners beyond it are left out).
    """
    a = _as_numpy(x)
    h, w = a.shape[-2:]
    power = np.abs(np.fft.fft2(a.reshape(-1, h, w))) ** 2 / (h * w)
    power = power.mean(axis=0)
    fy, fx = np.fft.fftfreq(h)[:, None], np.fft.fftfreq(w)[None, :]
    n = min(h, w)
    ring = np.rint(np.sqrt(fy**2 + fx**2) * n).astype(np.int64)  # ring k holds |f| ~ k / n
    k_max = n // 2
    keep = (ring >= 1) & (ring <= k_max)
    sums = np.bincount(ring[keep], weights=power[keep], minlength=k_max + 1)
    counts = np.bincount(ring[keep], minlength=k_max + 1)
    k = np.arange(1, k_max + 1)
    return k / n, sums[1:] / np.maximum(counts[1:], 1)


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
    """Spectra of one step's x_t, x0-hat and eps-hat (tensors (B, C, H, W) or arrays), its floor and crossover."""
    freqs, p_xt = radial_power_spectrum(x_t)
    _, p_x0 = radial_power_spectrum(x0_pred)
    _, p_eps = radial_power_spectrum(eps_pred)
    floor = 1.0 - float(alpha_bar)
    signal = float(alpha_bar) * p_x0
    return StepSpectrum(
        freqs, p_xt, p_x0, p_eps, float(alpha_bar), floor, signal, crossover_frequency(freqs, signal, floor)
    )
