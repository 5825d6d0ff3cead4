"""The app's Qt-free helpers: frame streaming, the bounded frame store, the forward process, export selection."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from diffusion_studio.app import streaming
from diffusion_studio.app.exporting import ExportRequest, chosen_positions, estimate, forward_source
from diffusion_studio.app.forward_view import ChainStore, ForwardProcess
from diffusion_studio.app.frame_store import FrameStore
from diffusion_studio.app.streaming import Notice, StepFrames, stream_frames, to_uint8_image
from diffusion_studio.core.cancel import CancelToken
from diffusion_studio.core.forward import q_sample
from diffusion_studio.core.plan import SamplingPlan
from diffusion_studio.core.schedules import make_schedule
from diffusion_studio.errors import ModelError
from diffusion_studio.io.frames import to_uint8_batch
from diffusion_studio.io.images import image_to_tensor
from diffusion_studio.runs import RunRequest, prepare_run


def _prepared(steps: int | None = None, sampler: str = "ddpm"):
    image = np.random.default_rng(0).integers(0, 256, (16, 24, 3), dtype=np.uint8)
    plan = SamplingPlan(sampler=sampler, steps=steps, seed=1)
    return prepare_run(RunRequest(model="ideal", schedule="linear", T=20, init_array=image, plan=plan,
                                  device="cpu"))


def test_a_batch_becomes_one_tiled_image_like_the_cli():
    x = torch.randn(4, 3, 5, 6)
    image = to_uint8_image(x)
    assert image.shape == (2 * 5 + 2, 2 * 6 + 2, 3) and image.flags.c_contiguous
    assert np.array_equal(image[:5, :6], to_uint8_batch(x)[0])
    assert np.array_equal(to_uint8_image(x[:1]), to_uint8_batch(x[:1])[0])


def test_stream_gives_every_step_and_the_final_picture():
    frames = list(stream_frames(_prepared()))
    assert [f.index for f in frames] == list(range(21))
    assert [f.t for f in frames] == [*range(19, -1, -1), -1]
    assert frames[-1].is_final and frames[-1].x_t is frames[-1].x0
    assert all(f.x_t.shape == (16, 24, 3) and f.x_t.dtype == np.uint8 for f in frames)


def test_stream_stops_within_one_step_when_cancelled():
    cancel = CancelToken()
    got = []
    for frame in stream_frames(_prepared(), cancel):
        got.append(frame)
        if len(got) == 3:
            cancel.cancel()
    assert len(got) == 3


def test_cuda_out_of_memory_restarts_on_the_cpu(monkeypatch):
    prepared = _prepared(steps=5)
    prepared.device = torch.device("cuda")  # never used: the patched run_plan fails there first
    real = streaming.run_plan

    def run_plan(model, sched, plan, shape, init, device, cancel):
        if torch.device(device).type == "cuda":
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (test)")
        return real(model, sched, plan, shape, init, device, cancel)

    monkeypatch.setattr(streaming, "run_plan", run_plan)
    items = list(stream_frames(prepared))
    assert isinstance(items[0], Notice) and items[0].restart and "CPU" in items[0].text
    assert [f.index for f in items[1:]] == list(range(6))


def test_out_of_memory_on_the_cpu_is_a_readable_error(monkeypatch):
    def run_plan(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("out of memory (test)")

    monkeypatch.setattr(streaming, "run_plan", run_plan)
    with pytest.raises(ModelError, match="ran out of memory"):
        list(stream_frames(_prepared(steps=3)))


def _frame(i: int, t: int, side: int = 4) -> StepFrames:
    pic = np.full((side, side, 3), i % 256, np.uint8)
    return StepFrames(i, 999, t, t - 1, pic, pic, pic)


def test_frame_store_keeps_everything_under_budget():
    store = FrameStore(budget_bytes=10**9)
    store.reset(1001, 3 * 256 * 256 * 3)  # a 1000-step run at 256 x 256: about 590 MB
    assert store.keeps_all and store.note() == ""


def test_frame_store_keeps_a_bounded_evenly_spaced_subset():
    store = FrameStore(budget_bytes=100 * 144)  # room for 100 frames of three 4 x 4 x 3 panels
    store.reset(1001, 144)
    for i in range(1001):
        store.add(_frame(i, 999 - i))
    assert len(store) == 100 and store.nbytes <= store.budget_bytes
    assert store[0].index == 0 and store[-1].index == 1000
    assert "100 of 1001" in store.note()
    assert store.at(500).t == min(store.timesteps, key=lambda t: abs(t - 500))
    assert store.at(-1).index == 1000


def test_forward_process_matches_q_sample():
    image = np.random.default_rng(3).integers(0, 256, (12, 10, 3), dtype=np.uint8)
    sched = make_schedule("cosine", 100)
    fwd = ForwardProcess(image, sched, seed=5)
    x0 = image_to_tensor(image)[None]
    eps = torch.from_numpy(fwd.eps).permute(2, 0, 1)[None]
    for t in (0, 37, 99):
        expected = to_uint8_batch(q_sample(sched, x0, t, eps))[0]
        assert np.abs(fwd.x_t(t).astype(int) - expected).max() <= 1
    assert fwd.x_t(-1) is fwd.image
    before = fwd.x_t(50).copy()
    fwd.resample(6)
    assert not np.array_equal(before, fwd.x_t(50))


def test_chain_store_strides_when_over_budget():
    store = ChainStore(T=100, bytes_per_frame=10, budget_bytes=250)  # 1000 bytes wanted: every 4th t
    assert store.stride == 4
    for t in range(60):
        store.add(t, np.full((1, 1, 1), t, np.uint8))
    assert store.at(59)[0] == 56 and store.at(60) is None and store.progress == 0.6


def test_export_selection_and_estimate():
    image = np.zeros((8, 8, 3), np.uint8)
    source = forward_source(image, make_schedule("linear", 30), seed=0)
    assert source.ts[0] == 29 and source.ts[-1] == -1 and source.label(len(source.ts) - 1) == "x₀ (clean)"
    req = ExportRequest(path="x.gif", t_from=20, t_to=-1, frame_count=5)
    picks = chosen_positions(source, req)
    assert len(picks) == 5 and source.ts[picks[0]] == 20 and source.ts[picks[-1]] == -1
    frames, (w, h), size, seconds = estimate(source, req)
    assert frames == 5 and w > 3 * 8 and h > 8 and size > 0 and seconds > 0
