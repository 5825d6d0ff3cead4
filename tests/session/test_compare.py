"""Comparisons: the same start noise bit for bit, per-run later noise, one playhead, costs and differences."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from diffusion_studio.core.plan import SamplingPlan
from diffusion_studio.errors import OptionError
from diffusion_studio.session.compare import RunGroup, compare, difference_map, parse_vary
from diffusion_studio.session.request import RunRequest, prepare_run
from diffusion_studio.session.run import Run
from tests.session.conftest import FakeModel, fake_prepared

BASE = RunRequest(model="gaussian", T=100, size=8, plan=SamplingPlan(seed=3), device="cpu")


def test_parse_vary_zips_keys_and_names_columns() -> None:
    variants = parse_vary(["sampler=ddpm,ddim,ddim", "steps=auto,50,10"])
    assert [v.label for v in variants] == ["DDPM, default steps", "DDIM, 50 steps", "DDIM, 10 steps"]
    req = variants[2].apply(BASE)
    assert req.plan.sampler == "ddim" and req.plan.steps == 10 and req.plan.seed == 3
    assert parse_vary(["guidance=0,3"])[1].apply(BASE).cfg_scale == 3.0


@pytest.mark.parametrize("specs", [
    ["sampler=ddpm"], ["sampler=ddpm,ddim,ddim,ddim,ddim"], ["colour=red,blue"], ["steps=5,x"],
    ["eta=nan,0"], ["sampler=ddpm,ddim", "steps=10"], ["eta=0,0"], [], ["sampler"],
])
def test_parse_vary_refuses_with_one_sentence(specs) -> None:
    with pytest.raises(OptionError):
        parse_vary(specs)


def test_first_frames_are_bit_identical_and_later_noise_is_per_run() -> None:
    group = compare(BASE, parse_vary(["sampler=ddpm,ddim,ddim", "steps=100,20,5", "eta=0,1,0"]))
    starts = [run.x_t_float(0) for run in group.runs]
    for x in starts[1:]:
        assert x.shape == starts[0].shape and x.view(-1).numpy().tobytes() == starts[0].view(-1).numpy().tobytes()
    for run in group.runs[1:]:
        np.testing.assert_array_equal(run.steps[0].x_t, group.runs[0].steps[0].x_t)
    assert group.model_calls() == [100, 20, 5]
    # each column is exactly `sample` with its own settings and the same seed: later noise is the run's own
    alone = Run.start(prepare_run(parse_vary(["sampler=ddpm,ddim", "eta=0,1"])[1].apply(
        replace(BASE, plan=replace(BASE.plan, steps=20)))))
    np.testing.assert_array_equal(alone.final.x_t, group.runs[1].final.x_t)
    assert not np.array_equal(group.runs[0].final.x_t, group.runs[1].final.x_t)


def test_models_of_different_sizes_cannot_share_noise() -> None:
    base = replace(BASE, model="digits", size=None, T=None)
    with pytest.raises(OptionError, match="different sizes"):
        compare(base, parse_vary(["model=digits,emoji"]))


def test_playhead_matches_by_t_and_by_log_snr() -> None:
    fine = Run.start(fake_prepared(FakeModel(), sampler="ddpm", T=100))
    coarse = Run.start(fake_prepared(FakeModel(), sampler="ddim", steps=10, T=100))
    group = RunGroup([fine, coarse], "t")
    assert group.playhead() == [*range(99, -1, -1), -1]
    a, b = group.frames_at(52)
    assert a.t == 52 and b.t == 50  # leading spacing: 90, 80, ..., 0
    assert [f.t for f in group.frames_at(-1)] == [-1, -1]
    # by log-SNR: the nearest step in lambda = log(abar / (1 - abar)) of each run's own schedule
    by_snr = RunGroup([fine, coarse], "logsnr").frames_at(52)
    lam = fine.prepared.schedule.log_snr
    expected = min(coarse.timesteps, key=lambda t: abs(lam[t] - lam[52]))
    assert by_snr[1].t == expected


def test_difference_map_is_black_where_equal_and_bright_where_not() -> None:
    a = np.zeros((4, 4, 1), np.uint8)
    b = a.copy()
    b[0, 0] = 255
    d = difference_map(b, a)
    assert d.shape == (4, 4, 3) and d.dtype == np.uint8
    assert d[1:, 1:].max() == 0 and d[0, 0].min() == 255


def test_a_change_the_sampler_ignores_is_refused() -> None:
    with pytest.raises(OptionError, match="DDIM only"):
        parse_vary(["eta=0,1"])[1].apply(BASE)  # BASE samples with DDPM
    ddim = replace(BASE, plan=replace(BASE.plan, sampler="ddim"))
    assert parse_vary(["eta=0,1"])[1].apply(ddim).plan.eta == 1.0
    with pytest.raises(OptionError, match="DDPM only"):
        parse_vary(["variance=beta,beta_tilde"])[0].apply(ddim)


def test_sigma_grid_samplers_compare_from_the_same_z_and_count_heuns_two_calls() -> None:
    base = replace(BASE, plan=replace(BASE.plan, steps=10))
    group = compare(base, parse_vary(["sampler=ddim,euler,heun,dpmpp_2m"]))
    assert group.labels == ["DDIM", "Euler", "Heun", "DPM-Solver++(2M)"]
    assert group.model_calls() == [10, 10, 19, 10]  # Heun: 2 a step, except the last
    start = group.runs[0].x_t_float(0)
    for run in group.runs[1:]:  # the same z, times diffusers' init_noise_sigma in VP scale on a sigma grid
        plan = run.prepared.plan
        scale = plan.grid(run.prepared.schedule).start_scale if plan.sampler_name.on_sigmas else 1.0
        assert torch.allclose(run.x_t_float(0) / scale, start, rtol=1e-6, atol=0)
    with pytest.raises(OptionError, match="part-way"):
        from diffusion_studio.session.branching import branch

        branch(group.runs[2], 50, 2)
