"""Sampler generators: determinism by seed, cancel within one step, SDEdit, the ideal denoiser's recovery."""

from __future__ import annotations

import pytest
import torch
from core_helpers import image_tensor

from diffusion_studio.core import (
    CancelToken,
    Guidance,
    SamplingPlan,
    ddim_sampler,
    ddim_timesteps,
    ddpm_sampler,
    drain,
    make_schedule,
    run_plan,
)
from diffusion_studio.errors import ModelError, OptionError


def _frames(steps):
    return [(s.t, s.x_t.clone(), s.x0_pred.clone(), s.x_prev.clone()) for s in steps]


@pytest.mark.parametrize("sampler,eta", [("ddpm", 0.0), ("ddim", 0.0), ("ddim", 1.0)])
def test_same_seed_same_frames(ideal_one, sampler: str, eta: float) -> None:
    sched = make_schedule("linear", 100)
    plan = SamplingPlan(sampler=sampler, steps=20 if sampler == "ddim" else None, eta=eta, seed=5)
    a = _frames(run_plan(ideal_one, sched, plan, (3, 8, 8)))
    b = _frames(run_plan(ideal_one, sched, plan, (3, 8, 8)))
    c = _frames(run_plan(ideal_one, sched, plan.with_seed(6), (3, 8, 8)))
    assert len(a) == (100 if sampler == "ddpm" else 20)
    for (ta, *xa), (tb, *xb) in zip(a, b, strict=True):
        assert ta == tb and all(torch.equal(u, v) for u, v in zip(xa, xb, strict=True))
    assert not torch.equal(a[0][1], c[0][1])


def test_steps_report_index_t_and_tprev(ideal_one) -> None:
    sched = make_schedule("linear", 1000)
    ts = ddim_timesteps(sched, 10)
    steps = list(ddim_sampler(ideal_one, sched, torch.randn(1, 3, 8, 8), ts))
    assert [s.index for s in steps] == list(range(10)) and all(s.total == 10 for s in steps)
    assert [s.t for s in steps] == ts
    assert [s.t_prev for s in steps] == ts[1:] + [-1]
    for a, b in zip(steps, steps[1:], strict=False):
        assert torch.equal(a.x_prev, b.x_t)


def test_cancel_stops_within_one_step(counting_model) -> None:
    sched = make_schedule("linear", 100)
    token = CancelToken()
    model = counting_model(cancel=token, cancel_at=7)
    steps = list(ddpm_sampler(model, sched, torch.randn(1, 1, 4, 4), cancel=token))
    assert model.calls == 7 and len(steps) == 7


def test_cancel_before_start_yields_nothing(counting_model) -> None:
    token = CancelToken()
    token.cancel()
    model = counting_model()
    assert (
        drain(ddpm_sampler(model, make_schedule("linear", 10), torch.zeros(1, 1, 2, 2), cancel=token)) is None
    )
    assert model.calls == 0


@pytest.mark.parametrize("sampler", ["ddpm", "ddim"])
def test_ideal_denoiser_recovers_its_reference(ideal_one, checker_image, sampler: str) -> None:
    sched = make_schedule("cosine", 1000)
    plan = SamplingPlan(sampler=sampler, steps=None if sampler == "ddpm" else 50, seed=0)
    final = drain(run_plan(ideal_one, sched, plan, (3, 8, 8)))
    torch.testing.assert_close(final, image_tensor(checker_image), atol=2e-2, rtol=0)


def test_sdedit_starts_at_t0_from_the_noised_image(ideal_one, checker_image) -> None:
    sched = make_schedule("linear", 1000)
    plan = SamplingPlan(sampler="ddim", steps=50, strength=0.6, seed=1)
    steps = list(run_plan(ideal_one, sched, plan, (3, 8, 8), init=image_tensor(checker_image)))
    assert steps[0].t <= round(0.6 * 999) and all(s.t <= 600 for s in steps)
    assert len(steps) == 30
    torch.testing.assert_close(steps[-1].x_prev, image_tensor(checker_image), atol=2e-2, rtol=0)


def test_sdedit_without_init_is_an_option_error(ideal_one) -> None:
    with pytest.raises(OptionError):
        list(run_plan(ideal_one, make_schedule("linear", 100), SamplingPlan(strength=0.5), (3, 8, 8)))


@pytest.mark.parametrize(
    "plan",
    [SamplingPlan(sampler="foo"), SamplingPlan(eta=2.0), SamplingPlan(strength=1.5), SamplingPlan(steps=0)],
)
def test_bad_plans_raise_option_error(plan) -> None:
    with pytest.raises(OptionError):
        plan.checked(make_schedule("linear", 100))


def test_nan_from_the_model_stops_with_a_model_error() -> None:
    class NanModel:
        def predict_eps(self, x_t, t, schedule, y=None):
            return torch.full_like(x_t, float("nan")) if int(t[0]) < 5 else x_t * 0

    with pytest.raises(ModelError, match="NaN"):
        drain(ddpm_sampler(NanModel(), make_schedule("linear", 10), torch.zeros(1, 1, 2, 2)))


def test_class_label_selects_that_reference(checker_image) -> None:
    from diffusion_studio.models.closed_form import IdealDenoiser

    other = 255 - checker_image
    model = IdealDenoiser([checker_image, other], ["a", "b"])
    sched = make_schedule("linear", 1000)
    for label, want in ((0, checker_image), (1, other)):
        plan = SamplingPlan(
            sampler="ddim", steps=25, guidance=Guidance(label=label, null_class=2, cfg_scale=3.0)
        )
        final = drain(run_plan(model, sched, plan, (3, 8, 8)))
        torch.testing.assert_close(final, image_tensor(want), atol=2e-2, rtol=0)
