"""Schedule formulas in closed form."""

from __future__ import annotations

import math

import numpy as np
import pytest

from diffusion_studio.core import SCHEDULE_NAMES, make_schedule
from diffusion_studio.core.schedules import schedule_from_spec
from diffusion_studio.errors import OptionError


@pytest.mark.parametrize("kind", SCHEDULE_NAMES)
@pytest.mark.parametrize("T", [2, 10, 1000, 4000])
def test_derived_arrays(kind: str, T: int) -> None:  # noqa: N803
    s = make_schedule(kind, T)
    assert s.T == T and s.betas.dtype == np.float64
    np.testing.assert_allclose(s.alphas, 1 - s.betas)
    np.testing.assert_allclose(s.alpha_bars, np.cumprod(1 - s.betas))
    np.testing.assert_allclose(s.sqrt_alpha_bars**2 + s.sqrt_one_minus_alpha_bars**2, 1.0)
    assert np.all(np.diff(s.alpha_bars) < 0), "abar_t falls with t"
    prev = np.append(1.0, s.alpha_bars[:-1])
    np.testing.assert_allclose(s.posterior_variance, (1 - prev) / (1 - s.alpha_bars) * s.betas)
    assert s.posterior_variance[0] == 0.0
    np.testing.assert_allclose(s.snr, s.alpha_bars / (1 - s.alpha_bars))
    np.testing.assert_allclose(s.log_snr, np.log(s.snr))
    assert schedule_from_spec(s.spec()).same_as(s)


def test_linear_endpoints_and_range_change() -> None:
    s = make_schedule("linear", 1000)
    assert s.betas[0] == pytest.approx(1e-4) and s.betas[-1] == pytest.approx(0.02)
    s2 = make_schedule("linear", 100, beta_start=1e-3, beta_end=0.05)
    assert s2.betas[-1] == pytest.approx(0.05)


def test_scaled_linear_is_linear_in_sqrt_beta() -> None:
    s = make_schedule("scaled_linear", 50)
    d = np.diff(np.sqrt(s.betas))
    np.testing.assert_allclose(d, d[0])


def test_cosine_follows_nichol_dhariwal() -> None:
    T = 1000  # noqa: N806
    s = make_schedule("cosine", T)

    def f(t: float) -> float:
        return math.cos((t / T + 0.008) / 1.008 * math.pi / 2) ** 2

    for t in (0, 100, 500, 900):
        assert s.alpha_bars[t] == pytest.approx(f(t + 1) / f(0), rel=1e-6)
    assert s.betas.max() <= 0.999


def test_sigmoid_is_monotone_in_range() -> None:
    s = make_schedule("sigmoid", 1000)
    assert np.all(np.diff(s.betas) > 0) and 1e-4 < s.betas[0] < s.betas[-1] < 0.02


def test_custom_betas() -> None:
    s = make_schedule(betas=[0.1, 0.2, 0.3])
    np.testing.assert_allclose(s.alpha_bars, [0.9, 0.72, 0.504])


@pytest.mark.parametrize(
    "kwargs",
    [dict(kind="nope"), dict(T=1), dict(T=4001), dict(beta_start=0.1, beta_end=0.01), dict(betas=[0.1, 1.5])],
)
def test_bad_options_raise_one_sentence(kwargs: dict) -> None:
    with pytest.raises(OptionError) as err:
        make_schedule(**kwargs)
    assert str(err.value).endswith(".")


def test_arrays_are_read_only() -> None:
    s = make_schedule("linear", 10)
    with pytest.raises(ValueError):
        s.betas[0] = 0.5
