"""The session layer: importable without Qt, requests prepared once, runs recorded, cancelled runs continued."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from diffusion_studio.core.cancel import CancelToken
from diffusion_studio.core.plan import SamplingPlan, run_plan
from diffusion_studio.errors import OptionError
from diffusion_studio.io.frames import to_uint8_batch
from diffusion_studio.session.devices import choose_device
from diffusion_studio.session.request import RunRequest, prepare_run
from diffusion_studio.session.run import Run
from tests.session.conftest import FakeModel, fake_prepared

SESSION_MODULES = [
    "diffusion_studio.session",
    "diffusion_studio.session.devices",
    "diffusion_studio.session.request",
    "diffusion_studio.session.run",
    "diffusion_studio.session.compare",
    "diffusion_studio.session.exports",
    "diffusion_studio.session.forward_view",
    "diffusion_studio.session.export_plan",
    "diffusion_studio.session.branching",
    "diffusion_studio.session.seeds",
    "diffusion_studio.session.filmstrip",
    "diffusion_studio.commands.compare",
    "diffusion_studio.runs",
    "diffusion_studio.core",
    "diffusion_studio.io.gif",
    "diffusion_studio.io.layout",
    "diffusion_studio.models.registry",
    "diffusion_studio.commands.sample",
]


def test_session_imports_without_qt() -> None:
    code = (
        "import sys, importlib\n"
        f"for m in {SESSION_MODULES!r}: importlib.import_module(m)\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'shiboken6'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"Qt was imported by the session layer: {out.stdout}"


def test_old_module_names_still_work() -> None:
    import diffusion_studio.app.exporting as old_exporting
    import diffusion_studio.app.forward_view as old_forward
    import diffusion_studio.runs as old_runs
    import diffusion_studio.session.export_plan as export_plan
    import diffusion_studio.session.forward_view as forward
    import diffusion_studio.session.request as request

    assert old_runs.RunRequest is request.RunRequest and old_runs.prepare_run is request.prepare_run
    assert old_forward.ForwardProcess is forward.ForwardProcess
    assert old_exporting.run_export is export_plan.run_export and old_exporting.estimate is export_plan.estimate


def test_one_device_choice() -> None:
    assert choose_device("cpu") == torch.device("cpu")
    assert choose_device("auto").type in ("cpu", "cuda")
    with pytest.raises(OptionError):
        choose_device("tpu")


def test_prepared_plan_carries_guidance_and_timesteps_once() -> None:
    plan = SamplingPlan(sampler="ddim", steps=10, eta=0.3, seed=5)
    prepared = prepare_run(RunRequest(model="gaussian", T=100, size=8, plan=plan, device="cpu"))
    assert prepared.plan.eta == 0.3 and prepared.plan.steps == 10 and prepared.plan.seed == 5
    assert prepared.plan.guidance.cfg_scale == 1.0
    assert prepared.timesteps == plan.timesteps(prepared.schedule)
    assert len(prepared.timesteps) == 10


def test_run_records_what_run_plan_yields_and_counts_calls() -> None:
    prepared = fake_prepared(sampler="ddpm", seed=3, T=50)
    run = Run.start(prepared, "ddpm")
    reference = list(run_plan(prepared.model, prepared.schedule, prepared.plan, prepared.shape))
    assert len(run.steps) == len(reference) == 50 and run.finished
    for rec, step in zip(run.steps, reference, strict=True):
        assert rec.t == step.t
        np.testing.assert_array_equal(rec.x_t, to_uint8_batch(step.x_t)[0])
        np.testing.assert_array_equal(rec.x0, to_uint8_batch(step.x0_pred)[0])
    np.testing.assert_array_equal(run.final.x_t, to_uint8_batch(reference[-1].x_prev)[0])
    assert run.model_calls == 50
    assert torch.equal(run.x_t_float(0), reference[0].x_t)


def test_cancelled_run_continues_exactly(fake_model: FakeModel) -> None:
    whole = Run.start(fake_prepared(FakeModel(), sampler="ddpm", T=60, seed=9))
    cancel = CancelToken()
    prepared = fake_prepared(fake_model, sampler="ddpm", T=60, seed=9)
    part = Run.start(prepared, cancel=cancel, on_step=lambda s: cancel.cancel() if s.index == 24 else None)
    assert len(part.steps) == 25 and not part.finished and part.model_calls == 25
    rest = Run.continue_from(part)
    assert rest.finished and rest.model_calls == 35 and fake_model.evaluations == 60
    assert rest.steps[:25] == part.steps  # the same recorded objects
    np.testing.assert_array_equal(rest.final.x_t, whole.final.x_t)
    for a, b in zip(rest.steps, whole.steps, strict=True):
        np.testing.assert_array_equal(a.x_t, b.x_t)
    with pytest.raises(ValueError):
        Run.continue_from(rest)


def test_a_run_over_its_budget_keeps_every_kth_step_and_says_so() -> None:
    prepared = fake_prepared(FakeModel(), sampler="ddpm", T=100, seed=4, shape=(3, 16, 16))
    per_step = 7 * 3 * 16 * 16
    run = Run.start(prepared, "small", budget=25 * per_step)
    assert run.stride == 4 and run.finished and run.model_calls == 100
    assert [s.index for s in run.steps] == [*range(0, 100, 4), 99]
    assert run.nbytes <= 27 * per_step
    assert "keeping 26 of 100 steps" in run.note()
    assert run.frame_nearest_t(50).t == 51  # kept: t = 99, 95, ..., 55, 51, 47, ..., 3, 0
    whole = Run.start(fake_prepared(FakeModel(), sampler="ddpm", T=100, seed=4, shape=(3, 16, 16)))
    np.testing.assert_array_equal(run.final.x_t, whole.final.x_t)  # only storage changes, never the run
    assert whole.note() == ""


def test_cuda_out_of_memory_restarts_the_run_on_the_cpu(monkeypatch) -> None:
    import diffusion_studio.session.run as run_module

    class RunsOutOnce(FakeModel):
        def predict_eps(self, x_t, t, schedule, y=None):
            if self.calls == 3 and not hasattr(self, "failed"):
                self.failed = True
                raise torch.cuda.OutOfMemoryError("CUDA out of memory")
            return super().predict_eps(x_t, t, schedule, y)

    real_start = run_module.start_sample
    monkeypatch.setattr(run_module, "start_sample", lambda *a: real_start(*a[:-1], "cpu"))  # no GPU here
    prepared = fake_prepared(RunsOutOnce(), sampler="ddpm", T=30, seed=5)
    prepared.device = torch.device("cuda")
    run = Run.start(prepared, "gpu")
    assert run.finished and run.prepared.device.type == "cpu" and "CPU" in run.notice
    same = Run.start(fake_prepared(FakeModel(), sampler="ddpm", T=30, seed=5))
    np.testing.assert_array_equal(run.final.x_t, same.final.x_t)  # same seed, same picture
    with pytest.raises(Exception, match="ran out of memory"):
        Run.start(fake_prepared(RunsOutOnce(), sampler="ddpm", T=30))  # on the CPU there is nowhere to go
