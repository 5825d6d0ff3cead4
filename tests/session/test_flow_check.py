"""The maths panel's live check: is the recorded step the Euler step on the rescaled ODE (session/flow_check.py)?"""

from __future__ import annotations

import numpy as np
import pytest

from diffusion_studio.core.plan import SamplingPlan
from diffusion_studio.core.velocity import flow_time, rescaled_sigma
from diffusion_studio.runs import RunRequest, prepare_run
from diffusion_studio.session.flow_check import flow_numbers
from diffusion_studio.session.frames import stream_frames


def _frames(sampler: str, clip: bool = False, spacing: str | None = None):
    image = np.random.default_rng(1).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    plan = SamplingPlan(sampler=sampler, steps=6, spacing=spacing, seed=3, clip_x0=clip)
    prepared = prepare_run(RunRequest(model="ideal", schedule="linear", T=200, init_array=image, plan=plan,
                                      device="cpu"))
    return prepared.schedule, list(stream_frames(prepared))


def _numbers(sched, frames, i):
    f = frames[i]
    abar_prev = 1.0 if f.t_prev < 0 else float(sched.alpha_bars[f.t_prev])
    return flow_numbers(f, frames[i + 1], float(sched.alpha_bars[f.t]), abar_prev)


@pytest.mark.parametrize("sampler,spacing", [("ddim", None), ("euler", "karras")])
def test_ddim_and_euler_steps_are_the_euler_step(sampler, spacing):
    sched, frames = _frames(sampler, spacing=spacing)
    for i in range(len(frames) - 1):
        n = _numbers(sched, frames, i)
        assert n.gap is not None and n.same(n.gap), (i, n)
        assert n.sigma_t == pytest.approx(rescaled_sigma(frames[i].pred_abar))
        assert n.s_prev == pytest.approx(flow_time(n.abar_prev))
    assert _numbers(sched, frames, len(frames) - 2).abar_prev == 1.0  # the last step ends clean


def test_ddpm_and_heun_steps_are_not():
    for sampler, spacing in (("ddpm", None), ("heun", "karras")):
        sched, frames = _frames(sampler, spacing=spacing)
        gaps = [_numbers(sched, frames, i) for i in range(len(frames) - 2)]
        assert any(not n.same(n.gap) for n in gaps), sampler


def test_the_final_frame_and_pictures_only_frames_give_no_check():
    sched, frames = _frames("ddim")
    final = flow_numbers(frames[-1], None, 1.0, 1.0)
    assert final.gap is None
    small = flow_numbers(frames[2].compact(), frames[3], 0.5, 0.6)
    assert small.gap is None and small.abar_t == frames[2].pred_abar


def test_float16_frames_still_pass_as_the_euler_step():
    """A store short of memory keeps float16 tensors: the tolerance follows their rounding."""
    from diffusion_studio.session.frames import StepFrames

    sched, frames = _frames("ddim")
    half = [StepFrames(f.index, f.steps, f.t, f.t_prev, *(x.half() for x in f.tensors()), f.pred_abar) for f in frames]
    for i in range(len(half) - 1):
        n = _numbers(sched, half, i)
        assert n.same(n.gap), i
