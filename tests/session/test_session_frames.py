"""The one step -> frame stream (CLI and window): every step recorded as the sampler's tensors, pictures on demand."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from diffusion_studio.core.cancel import CancelToken
from diffusion_studio.core.plan import SamplingPlan
from diffusion_studio.errors import ModelError
from diffusion_studio.io.frames import EPS_RANGE, panel_images, to_uint8_batch
from diffusion_studio.runs import RunRequest, prepare_run
from diffusion_studio.session import frames as frames_module
from diffusion_studio.session.frames import Notice, StepFrames, frame_bytes, stream_frames, to_uint8_image


def _prepared(steps: int | None = None, sampler: str = "ddpm", batch: int = 1):
    image = np.random.default_rng(0).integers(0, 256, (16, 24, 3), dtype=np.uint8)
    plan = SamplingPlan(sampler=sampler, steps=steps, seed=1, batch=batch)
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
    assert frames[-1].is_final and frames[-1].tensor(0) is frames[-1].tensor(1)
    assert all(f.x_t.shape == (16, 24, 3) and f.x_t.dtype == np.uint8 for f in frames)


def test_frames_hold_the_steps_own_tensors_and_their_pictures_match_the_cli(monkeypatch):
    """Recording costs no copy: each frame holds the very tensors of its step; the pictures equal the CLI's panels."""
    prepared = _prepared(batch=2)
    steps = []
    real = frames_module.run_plan

    def run_plan(*args):
        for step in real(*args):
            steps.append(step)
            yield step

    monkeypatch.setattr(frames_module, "run_plan", run_plan)
    frames = list(stream_frames(prepared))
    assert len(frames) == len(steps) + 1 and all(f.is_raw for f in frames)
    for frame, step in zip(frames, steps, strict=False):
        assert frame.tensor(0) is step.x_t and frame.tensor(1) is step.x0_pred and frame.tensor(2) is step.eps_pred
        expected = panel_images(step.x_t, step.x0_pred, step.eps_pred)
        assert all(np.array_equal(p, e) for p, e in zip(frame.pictures(), expected, strict=True))
    final = frames[-1]
    assert final.tensor(0) is steps[-1].x_prev and final.tensor(2) is steps[-1].eps_pred
    assert np.array_equal(final.x_t, panel_images(steps[-1].x_prev, None, None, ("x_t",))[0])


def test_compact_frames_hold_only_pictures_and_show_the_same():
    frame = next(iter(stream_frames(_prepared())))
    small = frame.compact()
    assert not small.is_raw and small.tensor(0) is None and small.compact() is small
    assert all(np.array_equal(a, b) for a, b in zip(frame.pictures(), small.pictures(), strict=True))
    assert small.nbytes == frame_bytes((3, 16, 24)) and frame.nbytes == 4 * small.nbytes


def test_a_view_into_a_larger_tensor_is_copied_before_it_is_held():
    big = torch.randn(2, 3, 8, 8)
    held = frames_module._own(big[:1])
    assert held.untyped_storage().nbytes() == held.numel() * 4 and torch.equal(held, big[:1])
    whole = torch.randn(1, 3, 8, 8)
    assert frames_module._own(whole) is whole


def test_eps_pictures_use_the_eps_range():
    eps = torch.full((1, 1, 2, 2), EPS_RANGE)
    frame = StepFrames(0, 1, 0, -1, eps, eps, eps)
    assert frame.x_t.max() == 255 and frame.eps.max() == 255
    frame = StepFrames(0, 1, 0, -1, -eps, -eps, torch.zeros_like(eps))
    assert frame.eps.min() == 128 and frame.x_t.max() == 0


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
    real = frames_module.run_plan

    def run_plan(model, sched, plan, shape, init, device, cancel):
        if torch.device(device).type == "cuda":
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (test)")
        return real(model, sched, plan, shape, init, device, cancel)

    monkeypatch.setattr(frames_module, "run_plan", run_plan)
    items = list(stream_frames(prepared))
    assert isinstance(items[0], Notice) and items[0].restart and "CPU" in items[0].text
    assert [f.index for f in items[1:]] == list(range(6))


def test_cuda_out_of_memory_moves_the_classifier_to_the_cpu_too(monkeypatch):
    """Classifier guidance takes the classifier's gradient at x_t: after the fallback both must be on the CPU."""
    moved: list[str] = []

    class Classifier(torch.nn.Module):
        def to(self, *args, **kwargs):
            moved.append(str(args[0]))
            return super().to(*args, **kwargs)

    prepared = _prepared(steps=2)
    prepared.plan = replace(prepared.plan, guidance=replace(prepared.plan.guidance, classifier=Classifier()))
    prepared.device = torch.device("cuda")

    def run_plan(model, sched, plan, shape, init, device, cancel):
        if torch.device(device).type == "cuda":
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (test)")
        assert moved == ["cpu"]  # moved before the run began again
        return iter(())

    monkeypatch.setattr(frames_module, "run_plan", run_plan)
    items = list(stream_frames(prepared))
    assert isinstance(items[0], Notice) and moved == ["cpu"]


def test_out_of_memory_on_the_cpu_is_a_readable_error(monkeypatch):
    def run_plan(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("out of memory (test)")

    monkeypatch.setattr(frames_module, "run_plan", run_plan)
    with pytest.raises(ModelError, match="ran out of memory"):
        list(stream_frames(_prepared(steps=3)))


def test_a_device_run_keeps_float32_cpu_copies_of_each_step(monkeypatch):
    """A GPU run's steps are copied to the CPU as they come (so v-hat, flow and the readout stay exact).

    This machine has no GPU: the run is told it is on CUDA and the patched sampler hands out float64 tensors, which
    a CPU run would keep as they are; the device path must copy them to float32.
    """
    prepared = _prepared(steps=3)
    prepared.device = torch.device("cuda")
    real = frames_module.run_plan
    made: list[torch.Tensor] = []

    def run_plan(model, sched, plan, shape, init, device, cancel):
        for step in real(model, sched, plan, shape, init, "cpu", cancel):
            step = replace(step, x0_pred=step.x0_pred.double())
            made.append(step.x0_pred)
            yield step

    monkeypatch.setattr(frames_module, "run_plan", run_plan)
    frames = list(stream_frames(prepared))
    assert len(frames) == 4 and all(f.is_raw for f in frames)
    for frame, x0 in zip(frames, made, strict=False):
        kept = frame.tensor(1)
        assert kept.dtype == torch.float32 and kept.device.type == "cpu" and kept is not x0
        assert torch.equal(kept, x0.float())
