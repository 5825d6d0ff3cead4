"""Step placement on the log-SNR axis (core/placement.py) against values computed by hand with numpy."""

from __future__ import annotations

import math

import numpy as np
import pytest

from diffusion_studio.core.placement import CallKind, nearest_t, sigma_log_snr, step_placement
from diffusion_studio.core.plan import SamplingPlan
from diffusion_studio.core.schedules import make_schedule


@pytest.fixture(scope="module")
def linear():
    return make_schedule("linear", 1000)


def _abar(T: int = 1000) -> np.ndarray:  # noqa: N803
    """abar_t of the linear schedule, from its definition (Ho et al. 2020: betas 1e-4 .. 0.02)."""
    return np.cumprod(1.0 - np.linspace(1e-4, 0.02, T))


def _karras(sigma_min: float, sigma_max: float, n: int, rho: float = 7.0) -> np.ndarray:
    """Karras et al. 2022 eq. 5, written out again here."""
    i = np.arange(n)
    return (sigma_max ** (1 / rho) + i / (n - 1) * (sigma_min ** (1 / rho) - sigma_max ** (1 / rho))) ** rho


def test_ddim_leading_calls_sit_at_the_log_snr_of_their_timesteps(linear) -> None:
    p = step_placement(SamplingPlan(sampler="ddim", steps=4, spacing="leading"), linear)
    abar = _abar()
    ts = [750, 500, 250, 0]  # leading: t = i * (T // n), descending
    np.testing.assert_array_equal(p.time, ts)
    np.testing.assert_allclose(p.log_snr, np.log(abar[ts] / (1 - abar[ts])), rtol=1e-12)
    assert p.log_snr[-1] == pytest.approx(math.log(0.9999 / 1e-4), rel=1e-12)  # t = 0: log(9999) = 9.2102
    assert p.kind == (CallKind.STEP,) * 4 and p.calls == p.steps == 4


def test_ddim_trailing_starts_at_the_noisiest_timestep_leading_does_not(linear) -> None:
    lead = step_placement(SamplingPlan(sampler="ddim", steps=10, spacing="leading"), linear)
    trail = step_placement(SamplingPlan(sampler="ddim", steps=10, spacing="trailing"), linear)
    lam = linear.log_snr
    assert trail.log_snr[0] == pytest.approx(lam[999]) and trail.time[-1] == 99  # 999, 899, ..., 99
    assert lead.log_snr[0] == pytest.approx(lam[900]) and lead.time[-1] == 0  # 900, 800, ..., 0
    assert lead.log_snr[-1] - trail.log_snr[-1] > 4  # leading's last step is far cleaner


def test_euler_karras_calls_are_at_minus_two_log_sigma_of_the_karras_sigmas(linear) -> None:
    n = 10
    p = step_placement(SamplingPlan(sampler="euler", steps=n, spacing="karras"), linear)
    abar = _abar()
    sigma = np.sqrt((1 - abar) / abar)
    expected = -2 * np.log(_karras(sigma[0], sigma[-1], n))
    # the grid's sigmas come from diffusers' float32 table: 1 - abar_0 = 1e-4 keeps ~4 digits there
    np.testing.assert_allclose(p.log_snr, expected, atol=5e-4)
    assert p.log_snr[0] == pytest.approx(math.log(abar[-1] / (1 - abar[-1])), rel=2e-5)
    assert np.all(np.diff(p.log_snr) > 0)  # noise falls step by step
    # lambda_i = -2 rho log(a + i b): the gaps grow steadily towards the clean end (1.22 ... 4.00)...
    gaps = np.diff(p.log_snr)
    assert np.all(np.diff(gaps) > 0)
    # ...while linspace in t jumps from lambda 1.9 to 9.2 in its last step: Karras covers both ends more finely
    lin = np.diff(step_placement(SamplingPlan(sampler="euler", steps=n, spacing="linspace"), linear).log_snr)
    assert gaps[0] < lin[0] and gaps[-1] < lin[-1] / 1.5
    # the model is fed fractional times there
    assert np.any(np.abs(p.time - np.round(p.time)) > 0.01)


def test_dpmpp_karras_spans_the_whole_trained_range_with_one_call_a_step(linear) -> None:
    p = step_placement(SamplingPlan(sampler="dpmpp_2m", steps=6, spacing="karras"), linear)
    abar = _abar()
    sigma = np.sqrt((1 - abar) / abar)
    np.testing.assert_allclose(p.log_snr, -2 * np.log(_karras(sigma[0], sigma[-1], 6)), atol=5e-4)
    assert p.calls == 6 and p.time.dtype == np.float64 and np.all(p.time == np.round(p.time))  # integer times


def test_heun_adds_a_correction_call_at_the_next_sigma_except_on_the_last_step(linear) -> None:
    n = 4
    p = step_placement(SamplingPlan(sampler="heun", steps=n, spacing="karras"), linear)
    euler = step_placement(SamplingPlan(sampler="euler", steps=n, spacing="karras"), linear)
    assert p.calls == 2 * n - 1
    assert p.kind == (CallKind.STEP, CallKind.CORRECTION) * (n - 1) + (CallKind.STEP,)
    np.testing.assert_array_equal(p.step, [0, 0, 1, 1, 2, 2, 3])
    np.testing.assert_allclose(p.log_snr[p.mask(CallKind.STEP)], euler.log_snr)
    np.testing.assert_allclose(p.log_snr[p.mask(CallKind.CORRECTION)], euler.log_snr[1:])  # sigma_{i+1}
    np.testing.assert_allclose(p.time[p.mask(CallKind.CORRECTION)], euler.time[1:])


def test_heun_churn_moves_the_first_call_to_a_higher_sigma(linear) -> None:
    n, churn = 5, 0.4
    plain = step_placement(SamplingPlan(sampler="heun", steps=n, spacing="karras"), linear)
    churned = step_placement(SamplingPlan(sampler="heun", steps=n, spacing="karras", churn=churn), linear)
    gamma = min(churn / n, math.sqrt(2) - 1)  # Karras et al. Algorithm 2: sigma^ = (1 + gamma) sigma
    first = churned.mask(CallKind.STEP)
    np.testing.assert_allclose(churned.log_snr[first], plain.log_snr[first] - 2 * math.log(1 + gamma), rtol=1e-12)
    np.testing.assert_allclose(churned.log_snr[~first], plain.log_snr[~first])  # corrections stay at sigma_{i+1}
    assert np.all(churned.time[first] >= plain.time[first])  # a noisier sample: a later model time


def test_sdedit_start_cuts_the_placement(linear) -> None:
    p = step_placement(SamplingPlan(sampler="ddim", steps=10, spacing="leading", strength=0.5), linear)
    np.testing.assert_array_equal(p.time, [500, 400, 300, 200, 100, 0])  # t0 = round(0.5 * 999) = 500
    assert p.steps == 6


def test_sigma_log_snr_and_nearest_t(linear) -> None:
    assert sigma_log_snr(1.0) == 0.0 and sigma_log_snr(math.e) == pytest.approx(-2.0)
    assert sigma_log_snr(0.0) == math.inf
    lam = linear.log_snr
    for t in (0, 1, 17, 500, 998, 999):
        assert nearest_t(linear, float(lam[t])) == t
    assert nearest_t(linear, float(0.4 * lam[500] + 0.6 * lam[501])) == 501
    assert nearest_t(linear, 100.0) == 0 and nearest_t(linear, -100.0) == 999
    assert nearest_t(linear, math.inf) == 0 and nearest_t(linear, -math.inf) == 999


class _TimeRecorder:
    """eps = 0.1 x_t; records the model time of every call (what the sampler really feeds the network)."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def predict_eps(self, x_t, t, schedule, y=None):
        self.times.append(float(t[0]))
        return 0.1 * x_t


@pytest.mark.parametrize("sampler,spacing,churn,extra", [
    ("ddim", "trailing", 0.0, {}), ("euler", "karras", 0.0, {}), ("heun", "karras", 0.0, {}),
    ("heun", "linspace", 0.6, {}), ("dpmpp_2m", "karras", 0.0, {}), ("ddim", "leading", 0.0, {"steps_offset": 1}),
    ("euler", "trailing", 0.0, {"karras": True, "final_sigmas_type": "sigma_min"}),
    ("dpmpp_2m", "linspace", 0.0, {"final_sigmas_type": "sigma_min"}),
])
def test_placement_lists_the_calls_the_sampler_makes(linear, sampler: str, spacing: str, churn: float,
                                                     extra: dict) -> None:
    from diffusion_studio.core.plan import run_plan

    plan = SamplingPlan(sampler=sampler, steps=6, spacing=spacing, churn=churn, seed=3, **extra)
    model = _TimeRecorder()
    steps = list(run_plan(model, linear, plan, (1, 4, 4)))
    p = step_placement(plan, linear)
    assert p.calls == len(model.times) == sum(s.calls for s in steps)
    np.testing.assert_allclose(p.time, model.times, rtol=1e-5, atol=1e-3)
    if churn == 0:  # each step's own call is at the noise level of its x_t
        abar = np.array([s.abar(linear) for s in steps])
        np.testing.assert_allclose(p.log_snr[p.mask(CallKind.STEP)], np.log(abar / (1 - abar)), rtol=1e-6, atol=1e-6)
