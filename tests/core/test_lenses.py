"""The lenses against numpy references: spectrum, trajectory PCA and the error against a reference run."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from diffusion_studio.core import SamplingPlan, make_schedule, run_plan
from diffusion_studio.core.karras import heun_sampler, sigma_grid
from diffusion_studio.core.lens_error import error_curve
from diffusion_studio.core.lens_spectrum import crossover_frequency, radial_power_spectrum, step_spectrum
from diffusion_studio.core.lens_trajectory import trajectory_pca
from diffusion_studio.models.closed_form import GaussianDenoiser


def _reference_spectrum(img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A loop-by-loop numpy reference: |DFT|^2 / (H W) per frequency, averaged in rings of radius k / N."""
    h, w = img.shape
    power = np.abs(np.fft.fft2(img)) ** 2 / (h * w)
    n = min(h, w)
    sums, counts = np.zeros(n // 2 + 1), np.zeros(n // 2 + 1)
    for u in range(h):
        for v in range(w):
            fu = (u if u <= h // 2 else u - h) / h
            fv = (v if v <= w // 2 else v - w) / w
            k = int(np.rint(np.hypot(fu, fv) * n))
            if 1 <= k <= n // 2:
                sums[k] += power[u, v]
                counts[k] += 1
    return np.arange(1, n // 2 + 1) / n, sums[1:] / counts[1:]


def test_spectrum_matches_the_loop_reference() -> None:
    img = np.random.default_rng(0).normal(size=(12, 16)).cumsum(axis=1)
    f, p = radial_power_spectrum(img)
    f_ref, p_ref = _reference_spectrum(img)
    np.testing.assert_allclose(f, f_ref)
    np.testing.assert_allclose(p, p_ref, rtol=1e-10)


@pytest.mark.parametrize("shape", [(13, 15), (16, 9), (9, 16), (7, 7)])
def test_spectrum_of_odd_and_wide_pictures_matches_the_loop_reference(shape: tuple[int, int]) -> None:
    """The half spectrum (rfft2) counts each mirrored entry twice, except column 0 and an even width's Nyquist."""
    img = np.random.default_rng(3).normal(size=shape).cumsum(axis=0)
    f, p = radial_power_spectrum(img)
    f_ref, p_ref = _reference_spectrum(img)
    np.testing.assert_allclose(f, f_ref)
    np.testing.assert_allclose(p, p_ref, rtol=1e-10)


def test_step_spectrum_in_one_batch_equals_three_separate_spectra() -> None:
    gen = torch.Generator().manual_seed(4)
    x_t, x0, eps = (torch.randn(2, 3, 20, 12, generator=gen) for _ in range(3))
    sp = step_spectrum(x_t, x0, eps, 0.3)
    for values, x in ((sp.x_t, x_t), (sp.x0, x0), (sp.eps, eps)):
        np.testing.assert_allclose(values, radial_power_spectrum(x)[1], rtol=1e-12)
    mixed = step_spectrum(x_t[:1], x0, eps[:, :1], 0.3)  # different shapes: one at a time, same answer
    np.testing.assert_allclose(mixed.x0, sp.x0, rtol=1e-12)
    np.testing.assert_allclose(mixed.x_t, radial_power_spectrum(x_t[:1])[1], rtol=1e-12)


def test_white_noise_is_flat_at_its_variance() -> None:
    std = 0.5
    noise = torch.randn(16, 3, 64, 64, generator=torch.Generator().manual_seed(0)) * std
    f, p = radial_power_spectrum(noise)
    assert f[0] == pytest.approx(1 / 64) and f[-1] == pytest.approx(0.5)
    assert np.mean(p) == pytest.approx(std**2, rel=0.02)
    np.testing.assert_allclose(p, std**2, rtol=0.2)  # every ring, even the 8-point innermost one (x 48 images)
    # a power law: log-log slope about -2 for a random walk along rows and columns
    walk = torch.randn(16, 1, 64, 64, generator=torch.Generator().manual_seed(1)).cumsum(-1).cumsum(-2)
    _, pw = radial_power_spectrum(walk)
    assert pw[0] > 100 * pw[-1]


def test_crossover_is_where_signal_meets_the_floor() -> None:
    freqs = np.array([0.1, 0.2, 0.4])
    assert crossover_frequency(freqs, np.array([4.0, 2.0, 0.5]), 1.0) == pytest.approx(0.2 * 2**0.5)
    assert crossover_frequency(freqs, np.array([4.0, 2.0, 1.5]), 1.0) is None
    assert crossover_frequency(freqs, np.array([0.5, 0.2, 0.1]), 1.0) == pytest.approx(0.1)


def test_step_spectrum_floor_and_crossover_rise_as_noise_falls() -> None:
    gen = torch.Generator().manual_seed(2)
    x0 = torch.randn(1, 3, 32, 32, generator=gen).cumsum(-1).cumsum(-2) / 10
    eps = torch.randn(1, 3, 32, 32, generator=gen)
    crossings = []
    for abar in (0.05, 0.5, 0.95):
        x_t = abar**0.5 * x0 + (1 - abar) ** 0.5 * eps
        sp = step_spectrum(x_t, x0, eps, abar)
        assert sp.noise_floor == pytest.approx(1 - abar)
        np.testing.assert_allclose(sp.signal, abar * radial_power_spectrum(x0)[1])
        crossings.append(sp.crossover or 1.0)
    assert crossings[0] < crossings[1] < crossings[2]


def test_straight_line_trajectory_is_one_component() -> None:
    gen = torch.Generator().manual_seed(0)
    start, direction = torch.randn(3, 8, 8, generator=gen), torch.randn(3, 8, 8, generator=gen)
    s = torch.linspace(0, 1, 50) ** 2  # uneven speed along the line
    run_a = start + s[:, None, None, None] * direction
    run_b = start + 0.5 * direction + s[:, None, None, None] * direction  # a second run on the same line
    pca = trajectory_pca([run_a, run_b], k=2)
    assert pca.explained[0] == pytest.approx(1.0, abs=1e-6) and pca.explained[1] < 1e-6
    assert np.abs(pca.coords[0][:, 1]).max() < 1e-4
    # the coordinate along PC 1 is the distance travelled, increasing from the first frame to the last
    np.testing.assert_allclose(np.diff(pca.coords[0][:, 0]), np.diff(s.numpy()) * float(direction.norm()), atol=2e-5)


def test_pca_matches_numpy_svd() -> None:
    rng = np.random.default_rng(3)
    runs = [rng.normal(size=(200, 3, 8, 8)).cumsum(0), rng.normal(size=(150, 3, 8, 8)).cumsum(0)]
    pca = trajectory_pca([torch.as_tensor(r, dtype=torch.float32) for r in runs], k=2)
    x = np.concatenate([r.reshape(len(r), -1) for r in runs])
    xc = x - x.mean(0)
    u, sv, _ = np.linalg.svd(xc, full_matrices=False)
    ref = u[:, :2] * sv[:2]
    ours = np.concatenate(pca.coords)
    for i in range(2):
        sign = np.sign(ours[:, i] @ ref[:, i])
        np.testing.assert_allclose(sign * ours[:, i], ref[:, i], atol=1e-3 * np.abs(ref[:, i]).max())
    np.testing.assert_allclose(pca.explained, sv[:2] ** 2 / (xc**2).sum(), rtol=1e-4)
    assert pca.project(torch.as_tensor(runs[1], dtype=torch.float32)) == pytest.approx(pca.coords[1], abs=1e-2)


@pytest.fixture
def gaussian(checker_image) -> GaussianDenoiser:
    return GaussianDenoiser([checker_image, 255 - checker_image, np.roll(checker_image, 1, axis=0)])


def test_error_of_a_heun_run_against_its_own_grid_is_zero(gaussian) -> None:
    """The reference with one Heun substep per step *is* a Heun run on Karras sigmas: an independent check."""
    sched = make_schedule("linear", 1000)
    grid = sigma_grid("heun", sched, 10, "karras")
    x = torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(0)) * grid.start_scale
    steps = list(heun_sampler(gaussian, sched, x, grid))
    c = error_curve(gaussian, sched, steps, substeps=1)
    assert c.x_t.max() < 1e-5 and c.x0.max() < 1e-5 and c.final < 1e-5
    assert c.calls == 19 and c.reference_calls == 19  # the same calls: 10 at the nodes, 9 Heun corrections


def test_error_falls_with_steps_and_order(gaussian) -> None:
    sched = make_schedule("linear", 1000)
    finals = {}
    for sampler in ("euler", "heun"):
        for n in (10, 40):
            plan = SamplingPlan(sampler=sampler, steps=n, spacing="karras", seed=1)
            steps = list(run_plan(gaussian, sched, plan, (3, 8, 8)))
            c = error_curve(gaussian, sched, steps)
            assert c.x_t[0] == 0 and c.x0[0] < 1e-5  # same start, exact model
            finals[sampler, n] = c.final
    assert finals["euler", 40] < finals["euler", 10] / 2.5  # first order: about 4x for 4x the steps
    assert finals["heun", 40] < finals["heun", 10] / 8  # second order: about 16x
    assert finals["heun", 40] < finals["euler", 40]
