"""The closed set of sampler names, the named step result, and the sigma-grid samplers inside a plan."""

from __future__ import annotations

import pytest
import torch
from core_helpers import image_tensor

from diffusion_studio.core import SamplingPlan, ddim_step, ddpm_step, drain, make_schedule, run_plan
from diffusion_studio.core.samplers import Guidance, reverse_process
from diffusion_studio.core.steps import SamplerName, StepResult
from diffusion_studio.errors import OptionError


def test_unknown_sampler_names_raise_instead_of_running_ddpm(counting_model) -> None:
    model = counting_model()
    with pytest.raises(OptionError, match="Unknown sampler 'foo'"):
        drain(reverse_process(model, make_schedule("linear", 10), torch.zeros(1, 1, 2, 2), [9, 5, 0], method="foo"))
    with pytest.raises(OptionError, match="ddpm, ddim, euler, heun, dpmpp_2m"):
        SamplingPlan(sampler="DDIM ").checked(make_schedule("linear", 10))
    assert model.calls == 0
    assert SamplerName.parse("heun") is SamplerName.HEUN and SamplerName.DDIM == "ddim"


def test_step_functions_return_a_named_result() -> None:
    sched = make_schedule("linear", 100)
    x, eps, z = torch.randn(3, 1, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    out = ddim_step(sched, x, 50, 40, eps)
    assert isinstance(out, StepResult) and torch.equal(out.x_prev, out[0]) and torch.equal(out.x0_pred, out[1])
    x_prev, x0 = ddpm_step(sched, x, 50, eps, z)  # tuple unpacking keeps working
    assert isinstance(ddpm_step(sched, x, 50, eps, z), StepResult) and x_prev.shape == x0.shape


@pytest.mark.parametrize("sampler", ["euler", "heun", "dpmpp_2m"])
@pytest.mark.parametrize("spacing", ["karras", "leading", "trailing", "linspace"])
def test_sigma_samplers_in_a_plan_recover_the_reference(ideal_one, checker_image, sampler, spacing) -> None:
    sched = make_schedule("linear", 1000)
    plan = SamplingPlan(sampler=sampler, steps=12, spacing=spacing, seed=2)
    steps = list(run_plan(ideal_one, sched, plan, (3, 8, 8)))
    assert len(steps) == 12 and [s.index for s in steps] == list(range(12))
    assert [s.t for s in steps] == plan.timesteps(sched) and steps[-1].t_prev == -1
    for a, b in zip(steps, steps[1:], strict=False):
        assert torch.equal(a.x_prev, b.x_t) and a.alpha_bar < b.alpha_bar
    calls = [s.calls for s in steps]
    assert calls == ([2] * 11 + [1] if sampler == "heun" else [1] * 12)
    torch.testing.assert_close(steps[-1].x_prev, image_tensor(checker_image), atol=2e-2, rtol=0)
    # x_t is in VP scale: x_t = sqrt(abar) x0_hat + sqrt(1 - abar) eps_hat at every step
    for s in steps:
        a = s.alpha_bar
        torch.testing.assert_close(s.x_t, a**0.5 * s.x0_pred + (1 - a) ** 0.5 * s.eps_pred, atol=1e-4, rtol=1e-4)


def test_default_spacing_is_diffusers_default_for_the_sampler() -> None:
    assert SamplingPlan(sampler="ddim").spacing_name == "leading"
    assert SamplingPlan(sampler="euler").spacing_name == SamplingPlan(sampler="dpmpp_2m").spacing_name == "linspace"
    assert SamplingPlan(sampler="heun", spacing="trailing").spacing_name == "trailing"


def test_karras_spacing_is_refused_for_ddpm_and_ddim_and_churn_for_non_heun() -> None:
    sched = make_schedule("linear", 100)
    for plan in (
        SamplingPlan(sampler="ddim", spacing="karras"),
        SamplingPlan(sampler="euler", churn=1.0),
        SamplingPlan(sampler="heun", churn=float("nan")),
        SamplingPlan(guidance_interval=(5.0, 1.0)),
        SamplingPlan(spacing="foo"),
    ):
        with pytest.raises(OptionError):
            plan.checked(sched)


def test_heun_churn_draws_from_the_seed_and_changes_the_run(ideal_one) -> None:
    sched = make_schedule("linear", 1000)
    plan = SamplingPlan(sampler="heun", steps=8, spacing="karras", churn=4.0, seed=1)
    a = [s.x_prev for s in run_plan(ideal_one, sched, plan, (3, 8, 8))]
    b = [s.x_prev for s in run_plan(ideal_one, sched, plan, (3, 8, 8))]
    c = [
        s.x_prev
        for s in run_plan(ideal_one, sched, SamplingPlan(sampler="heun", steps=8, spacing="karras", seed=1), (3, 8, 8))
    ]
    assert all(torch.equal(u, v) for u, v in zip(a, b, strict=True))
    assert not torch.equal(a[3], c[3])


def test_sdedit_start_on_a_sigma_grid(ideal_one, checker_image) -> None:
    sched = make_schedule("linear", 1000)
    plan = SamplingPlan(sampler="dpmpp_2m", steps=20, spacing="karras", strength=0.5, seed=1)
    steps = list(run_plan(ideal_one, sched, plan, (3, 8, 8), init=image_tensor(checker_image)))
    assert 0 < len(steps) < 20 and all(s.time <= 0.5 * 999 for s in steps)
    torch.testing.assert_close(steps[-1].x_prev, image_tensor(checker_image), atol=2e-2, rtol=0)


class _GuidanceSpy:
    """A class-conditional fake that records, per call, the batch size (2 = guided, 1 = plain) and t."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, float]] = []

    def predict_eps(self, x_t, t, schedule, y=None):
        self.calls.append((x_t.shape[0], float(t[0])))
        return 0.1 * x_t + (0.0 if y is None else 0.01 * y.float().reshape(-1, 1, 1, 1))


@pytest.mark.parametrize("sampler", ["ddim", "euler"])
def test_guidance_interval_guides_only_inside_it(sampler: str) -> None:
    sched = make_schedule("linear", 1000)
    spy = _GuidanceSpy()
    guidance = Guidance(label=1, null_class=2, cfg_scale=3.0)
    plan = SamplingPlan(sampler=sampler, steps=20, spacing="trailing", guidance=guidance, guidance_interval=(200, 600))
    steps = list(run_plan(spy, sched, plan, (1, 4, 4)))
    assert len(spy.calls) == len(steps) == 20
    for batch, t in spy.calls:
        assert batch == (2 if 200 <= t <= 600 else 1)
    assert any(b == 2 for b, _ in spy.calls) and any(b == 1 for b, _ in spy.calls)
    for s in steps:  # the CFG difference eps_c - eps_u is recorded where guidance was applied
        guided = 200 <= (s.time if s.time is not None else s.t) <= 600
        assert (s.cfg_delta is not None) == guided
        if guided:
            torch.testing.assert_close(s.cfg_delta, torch.full_like(s.x_t, 0.01 * (1 - 2)))
    # without the interval every call is guided
    spy.calls.clear()
    drain(
        run_plan(spy, sched, SamplingPlan(sampler=sampler, steps=20, spacing="trailing", guidance=guidance), (1, 4, 4))
    )
    assert all(b == 2 for b, _ in spy.calls)


def test_v_prediction_from_x0_and_eps(ideal_one) -> None:
    sched = make_schedule("cosine", 1000)
    for plan in (SamplingPlan(sampler="ddim", steps=5), SamplingPlan(sampler="heun", steps=5, spacing="karras")):
        for s in run_plan(ideal_one, sched, plan, (3, 8, 8)):
            a = s.abar(sched)
            v = s.v_pred(sched)
            # x0 = sqrt(abar) x_t - sqrt(1 - abar) v   (Salimans & Ho 2022)
            torch.testing.assert_close(a**0.5 * s.x_t - (1 - a) ** 0.5 * v, s.x0_pred, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("sampler", ["ddim", "euler", "heun"])
def test_plan_steps_from_a_recorded_step_continues_the_run_exactly(ideal_one, sampler: str) -> None:
    """Single-step samplers continue exactly from any recorded x_t (what branching and resuming need)."""
    from diffusion_studio.core.plan import plan_steps

    sched = make_schedule("linear", 1000)
    plan = SamplingPlan(sampler=sampler, steps=10, spacing="trailing", seed=4)
    full = list(run_plan(ideal_one, sched, plan, (3, 8, 8)))
    tail = list(plan_steps(ideal_one, sched, plan, full[6].x_t, timesteps=plan.timesteps(sched)[6:]))
    assert [s.t for s in tail] == [s.t for s in full[6:]]
    torch.testing.assert_close(tail[-1].x_prev, full[-1].x_prev, atol=1e-6, rtol=1e-6)


def test_log_snr_placement_of_each_sampler() -> None:
    sched = make_schedule("linear", 1000)
    ddim = SamplingPlan(sampler="ddim", steps=10)
    assert ddim.log_snrs(sched) == [float(sched.log_snr[t]) for t in ddim.timesteps(sched)]
    for sampler in ("euler", "dpmpp_2m"):
        plan = SamplingPlan(sampler=sampler, steps=10, spacing="karras")
        snr = plan.log_snrs(sched)
        assert len(snr) == 10 and snr == sorted(snr)  # noise falls: log-SNR rises
        assert snr[0] == pytest.approx(float(sched.log_snr[-1]), rel=1e-5)  # Karras starts at sigma_max
        assert snr[-1] == pytest.approx(float(sched.log_snr[0]), rel=1e-4)  # and at sigma_min (float32 grid)
