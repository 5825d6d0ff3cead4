"""The GUI thread's share of a run: no work per step, at most three conversions per refresh, paced CPU time."""

from __future__ import annotations

import threading
import time

from app_helpers import FakeModel

from diffusion_studio.app.run_session import RefreshPacer
from diffusion_studio.session import frames as frames_module


def test_the_gui_converts_at_most_three_pictures_per_refresh_however_many_steps_arrived(make_window, qtbot,
                                                                                         monkeypatch):
    conversions: list[str] = []
    real = frames_module.to_uint8_image

    def counting(*args):
        conversions.append(threading.current_thread().name)
        return real(*args)

    monkeypatch.setattr(frames_module, "to_uint8_image", counting)
    w = make_window(FakeModel(), steps_T=400)
    refreshes: list[tuple[int, int]] = []  # (frames recorded, conversions so far) at each refresh
    w.session.refreshed.connect(lambda: refreshes.append((w.session.received, len(conversions))))
    w.session.pacer.share = 1.0  # every tick may refresh: the count per refresh is what is tested here
    crossed: list[object] = []
    w.session._job.item.connect(crossed.append)  # what the worker sends the GUI thread (notices only)
    with qtbot.waitSignal(w.runEnded, timeout=20000):
        w.start_run()
        time.sleep(0.3)  # the GUI thread is busy elsewhere while the worker records a few hundred steps
    assert len(w.session.store) == 401 and crossed == []  # no signal per step: the frames went into the store
    gui = threading.main_thread().name
    assert set(conversions) == {gui}  # the worker converts nothing: it records the tensors
    assert refreshes[0][0] > 30  # the first refresh came after many steps had been recorded
    assert refreshes[0][1] <= 6  # the view shown at the start (if a frame was already there) and that refresh
    done = [b[1] - a[1] for a, b in zip(refreshes, refreshes[1:], strict=False)]
    assert max(done, default=0) <= 3  # each later refresh: the newest frame's three panes, however many arrived
    assert len(conversions) <= 3 * (len(refreshes) + 2)  # + the finished view when the run ends


def test_the_pacer_keeps_the_gui_threads_cpu_to_its_share():
    clock = {"wall": 0.0, "cpu": 0.0}
    pacer = RefreshPacer(share=0.05, cap_s=0.01, wall=lambda: clock["wall"], cpu=lambda: clock["cpu"])
    refreshes = 0
    for _ in range(625):  # ten seconds of 16 ms ticks
        clock["wall"] += 0.016
        if pacer.ready():
            refreshes += 1
            clock["cpu"] += 0.004  # a refresh costs 4 ms of GUI-thread CPU
    assert clock["cpu"] <= 0.05 * clock["wall"] + 0.01 + 0.004
    assert 115 <= refreshes <= 128  # 0.05 / 0.004 = 12.5 refreshes a second
    cheap = RefreshPacer(share=0.05, wall=lambda: clock["wall"], cpu=lambda: clock["cpu"])
    ready = 0
    for _ in range(100):
        clock["wall"] += 0.016
        ready += cheap.ready()
        clock["cpu"] += 0.0002  # cheap refreshes: every tick
    assert ready == 100
    clock["cpu"] += 1.0  # a second of other work in the GUI thread (e.g. a dialog) ...
    waits = 0
    while not cheap.ready():
        clock["wall"] += 0.016
        waits += 1
    assert waits * 0.016 <= 0.01 / 0.05 + 0.016  # ... delays the next refresh by at most cap / share


def test_cuda_out_of_memory_restarts_the_windows_run_on_the_cpu(qtbot, monkeypatch):
    """The worker empties the store and records the CPU run; the session says so and names the new device."""
    import dataclasses

    import torch

    from diffusion_studio.app.run_session import RunSession
    from diffusion_studio.core.plan import SamplingPlan
    from diffusion_studio.runs import RunRequest, prepare_run

    real = frames_module.run_plan

    def run_plan(model, sched, plan, shape, init, device, cancel):
        steps = real(model, sched, plan, shape, init, "cpu", cancel)
        if torch.device(device).type != "cuda":
            return steps

        def failing():
            for step in steps:
                if step.index == 3:
                    raise torch.cuda.OutOfMemoryError("CUDA out of memory (test)")
                yield step
        return failing()

    monkeypatch.setattr(frames_module, "run_plan", run_plan)
    prepare = lambda request: dataclasses.replace(prepare_run(request), device=torch.device("cuda"))  # noqa: E731
    session = RunSession(prepare)
    notices: list[str] = []
    session.noticed.connect(notices.append)
    request = RunRequest(model="ideal", schedule="linear", T=30, size=12, plan=SamplingPlan(seed=4), device="cpu")
    with qtbot.waitSignal(session.ended, timeout=20000) as ended:
        info = session.start(request)
    assert info.device.startswith("CUDA") and ended.args == ["finished", ""]
    assert len(notices) == 1 and "CPU" in notices[0] and session.info.device == "CPU"
    assert [f.index for f in session.store.frames] == list(range(31)) and session.received == 31


def test_a_second_run_records_into_the_first_runs_block(make_window, qtbot):
    """Nothing in the window keeps the last run's frames alive (the readout holds them weakly), so the next run
    reuses their memory instead of faulting in fresh pages (docs/recording.md)."""
    w = make_window(FakeModel())
    starts = []
    for _ in range(2):
        with qtbot.waitSignal(w.runEnded, timeout=20000):
            w.start_run()
        qtbot.wait(50)  # the finished view painted, its readout set
        assert w.session.store.mode == "tensors"
        starts.append(w.session.store[0].tensor(0).data_ptr())
    assert starts[0] == starts[1]
