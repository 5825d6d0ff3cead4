"""The CLI records through the window's frame stream, so it has the same CUDA out-of-memory fallback."""

from __future__ import annotations

import numpy as np
import torch

from diffusion_studio.commands.recording import record_run
from diffusion_studio.core.plan import SamplingPlan
from diffusion_studio.runs import RunRequest, prepare_run
from diffusion_studio.session import frames as frames_module


def _prepared():
    plan = SamplingPlan(sampler="ddim", steps=6, seed=2)
    return prepare_run(RunRequest(model="ideal", schedule="linear", T=30, size=12, plan=plan, device="cpu"))


def test_cuda_out_of_memory_restarts_the_cli_run_on_the_cpu(monkeypatch, capsys):
    expected = record_run(_prepared(), ("x_t", "eps"), frame_count=4, quiet=True)
    prepared = _prepared()
    prepared.device = torch.device("cuda")  # never used: the patched run_plan fails there at the third step
    real = frames_module.run_plan

    def run_plan(model, sched, plan, shape, init, device, cancel):
        steps = real(model, sched, plan, shape, init, "cpu", cancel)
        if torch.device(device).type != "cuda":
            return steps

        def failing():
            for step in steps:
                if step.index == 2:
                    raise torch.cuda.OutOfMemoryError("CUDA out of memory (test)")
                yield step
        return failing()

    monkeypatch.setattr(frames_module, "run_plan", run_plan)
    rec = record_run(prepared, ("x_t", "eps"), frame_count=4, quiet=True)
    assert "started again on the CPU" in capsys.readouterr().err and len(rec.notices) == 1
    assert rec.labels == expected.labels and len(rec.labels) == 4 and rec.labels[-1] == "x₀ (final)"
    assert all(np.array_equal(a, b) for fa, fb in zip(rec.frames, expected.frames, strict=True)
               for a, b in zip(fa, fb, strict=True))
    assert np.array_equal(rec.final, expected.final) and prepared.device.type == "cuda"


def test_only_the_kept_frames_become_pictures(monkeypatch):
    calls = []
    real = frames_module.to_uint8_image
    monkeypatch.setattr(frames_module, "to_uint8_image", lambda *a: calls.append(1) or real(*a))
    rec = record_run(_prepared(), ("x_t", "x0", "eps"), frame_count=3, quiet=True)
    assert len(rec.frames) == 3 and len(calls) == 3 * 3 + 1  # three panels of three frames, and the final PNG


def test_cli_exports_title_the_panes_and_name_the_run(tmp_path, monkeypatch):
    """sample --gif/--sheet: each pane titled and a caption line naming model, class, guidance, sampler, steps, seed."""
    import diffusion_studio.commands.recording as recording
    from diffusion_studio.cli import main

    seen: dict[str, object] = {}
    real_gif, real_sheet = recording.export_gif, recording.export_contact_sheet

    def spy_gif(path, frames, labels, options, titles=None, note=None):
        seen["gif"] = (titles, note)
        return real_gif(path, frames, labels, options, titles, note)

    def spy_sheet(path, frames, labels, **kwargs):
        seen["sheet"] = (kwargs.get("titles"), kwargs.get("note"))
        return real_sheet(path, frames, labels, **kwargs)

    monkeypatch.setattr(recording, "export_gif", spy_gif)
    monkeypatch.setattr(recording, "export_contact_sheet", spy_sheet)
    gif, sheet = tmp_path / "seven.gif", tmp_path / "seven.png"
    code = main(["sample", "--model", "digits", "--class", "7", "--guidance", "3", "--sampler", "ddim", "--steps", "5",
                 "--seed", "4", "--panels", "x_t,x0", "--gif", str(gif), "--sheet", str(sheet), "--quiet"])
    assert code == 0 and gif.is_file() and sheet.is_file()
    for kind in ("gif", "sheet"):
        titles, note = seen[kind]
        assert titles == ["x_t", "x̂₀ predicted"]
        assert note == "digits · class 7 · guidance s = 3 · DDIM, η = 0, 5 steps · seed 4"
    seen.clear()
    assert main(["sample", "--model", "digits", "--class", "7", "--sampler", "ddim", "--steps", "3", "--no-label",
                 "--gif", str(gif), "--quiet"]) == 0
    assert seen["gif"] == (None, None)  # --no-label: no captions at all
