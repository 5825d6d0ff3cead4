"""The third reverse pane's v-hat and flow velocity, derived from a frame's x0 and eps when shown."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from diffusion_studio.core.plan import SamplingPlan
from diffusion_studio.errors import OptionError
from diffusion_studio.io.frames import EPS_RANGE, FLOW_RANGE, V_RANGE, to_uint8_batch
from diffusion_studio.runs import RunRequest, prepare_run
from diffusion_studio.session import frames as frames_module
from diffusion_studio.session.arena import StepArena
from diffusion_studio.session.frames import StepFrames, stream_frames
from diffusion_studio.session.third_pane import TEXTS, ThirdPane, pane_picture, pane_values


def _known_frame(abar: float = 0.3, batch: int = 1) -> tuple[StepFrames, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(4)
    x0 = rng.uniform(-1, 1, (batch, 3, 6, 7)).astype(np.float32)
    eps = rng.standard_normal((batch, 3, 6, 7)).clip(-2.9, 2.9).astype(np.float32)  # inside eps's picture range
    x_t = np.sqrt(abar) * x0 + np.sqrt(1 - abar) * eps
    frame = StepFrames(0, 10, 500, 400, torch.from_numpy(x_t), torch.from_numpy(x0), torch.from_numpy(eps), abar)
    return frame, x0, eps


def _prepared(sampler: str = "ddim", steps: int = 5, spacing: str | None = None):
    image = np.random.default_rng(0).integers(0, 256, (8, 10, 3), dtype=np.uint8)
    plan = SamplingPlan(sampler=sampler, steps=steps, spacing=spacing, seed=1)
    return prepare_run(RunRequest(model="ideal", schedule="linear", T=50, init_array=image, plan=plan, device="cpu"))


def test_v_and_flow_values_match_numpy_from_known_x0_eps_and_abar():
    frame, x0, eps = _known_frame(abar=0.3)
    v = pane_values(frame, "v")
    assert v is not None and np.allclose(v.numpy(), np.sqrt(0.3) * eps - np.sqrt(0.7) * x0, atol=1e-6)
    assert np.allclose(pane_values(frame, ThirdPane.FLOW).numpy(), eps - x0, atol=1e-6)
    assert pane_values(frame, "eps") is frame.tensor(2)


def test_pictures_use_their_display_ranges_and_differ_from_eps():
    frame, x0, eps = _known_frame(abar=0.3)
    v = np.sqrt(0.3) * eps - np.sqrt(0.7) * x0
    want_v = to_uint8_batch(torch.from_numpy(v), -V_RANGE, V_RANGE)[0]
    want_flow = to_uint8_batch(torch.from_numpy(eps - x0), -FLOW_RANGE, FLOW_RANGE)[0]
    assert np.array_equal(pane_picture(frame, "v"), want_v)
    assert np.array_equal(pane_picture(frame, "flow"), want_flow)
    assert np.array_equal(pane_picture(frame, "eps"), frame.eps)
    assert not np.array_equal(want_v, frame.eps) and not np.array_equal(want_flow, frame.eps)
    assert TEXTS[ThirdPane.V].value_range == (-V_RANGE, V_RANGE) and f"{V_RANGE:g}" in TEXTS[ThirdPane.V].tip


def test_a_frame_without_its_noise_level_takes_the_fallback_and_v_refuses_without_one():
    _, x0, eps = _known_frame()
    bare = StepFrames(0, 1, 5, -1, torch.zeros(1, 3, 6, 7), torch.from_numpy(x0), torch.from_numpy(eps))
    assert np.allclose(pane_values(bare, "v", abar=0.8).numpy(), np.sqrt(0.8) * eps - np.sqrt(0.2) * x0, atol=1e-6)
    assert pane_values(bare, "flow") is not None  # the flow velocity needs no noise level
    with pytest.raises(ValueError):
        pane_values(bare, "v")


def test_compacted_frames_are_derived_from_their_pictures_within_a_grey_level_or_two():
    frame, x0, eps = _known_frame(abar=0.6, batch=4)  # a batch: tiled, with white gaps
    for kind in ("v", "flow"):
        exact = pane_picture(frame, kind)
        small = frame.compact()
        assert not small.is_raw and pane_values(small, kind) is None
        approx = pane_picture(small, kind)
        assert approx.shape == exact.shape
        assert np.abs(eps).max() < EPS_RANGE and np.abs(approx.astype(int) - exact.astype(int)).max() <= 2
        assert (approx[6:8] == 255).all()  # the gap row between the tiles stays white


def test_unknown_pane_is_a_typed_error():
    frame, _, _ = _known_frame()
    with pytest.raises(OptionError, match="Unknown pane 'velocity'"):
        pane_picture(frame, "velocity")


def test_stream_frames_carry_the_noise_level_of_their_predictions():
    prepared = _prepared("ddim", 5)
    frames = list(stream_frames(prepared))
    abars = prepared.schedule.alpha_bars
    for frame in frames[:-1]:
        assert frame.pred_abar == pytest.approx(float(abars[frame.t]))
    final = frames[-1]
    assert final.is_final and final.pred_abar == frames[-2].pred_abar  # the last step's, as its eps pane
    arena = StepArena(len(frames))
    kept = [arena.put(f) for f in frames]
    assert [f.pred_abar for f in kept] == [f.pred_abar for f in frames]
    assert [f.compact().pred_abar for f in frames] == [f.pred_abar for f in frames]


def test_sigma_grid_frames_carry_their_own_exact_noise_level(monkeypatch):
    prepared = _prepared("euler", 4, "karras")
    steps = []
    real = frames_module.run_plan

    def run_plan(*args):
        for step in real(*args):
            steps.append(step)
            yield step

    monkeypatch.setattr(frames_module, "run_plan", run_plan)
    frames = list(stream_frames(prepared))
    assert [f.pred_abar for f in frames[:-1]] == [s.alpha_bar for s in steps]
    assert any(s.alpha_bar != pytest.approx(float(prepared.schedule.alpha_bars[s.t]), rel=1e-6) for s in steps)
    v = pane_values(frames[1], "v")
    assert torch.allclose(v, steps[1].v_pred(prepared.schedule), atol=1e-6)  # the Step's own v-hat
