"""The reverse view: sampling on the worker thread, every step received, cancel, close, errors, responsiveness."""

from __future__ import annotations

import os
import time

import numpy as np
from app_helpers import FakeModel
from PySide6.QtCore import QTimer


def test_a_run_streams_every_step_and_the_finished_picture(make_window, qtbot):
    w = make_window()
    with qtbot.waitSignal(w.runEnded, timeout=20000) as ended:
        w.start_run()
        assert w.view == "reverse" and w.menu_actions.cancel.isEnabled()
    assert ended.args == ["finished", ""]
    store = w.session.store
    assert len(store) == 51 and [f.index for f in store.frames] == list(range(51))
    assert store.timesteps == [*range(49, -1, -1), -1]
    assert w.player.timeline.marks == sorted(store.timesteps)
    assert not w.session.running and not w.menu_actions.cancel.isEnabled()
    assert "Finished 50 steps" in w.status.message.text()
    final = store.frames[-1]
    assert np.array_equal(w.canvas.image(0), final.x_t)  # the playhead followed the run to its end
    assert w.canvas.image(0).shape == w.forward.image.shape


def test_scrubbing_a_finished_run_snaps_to_recorded_steps(make_window, qtbot):
    w = make_window()
    w.controls.method.setCurrentIndex(w.controls.method.findData("ddim"))
    w.controls.steps.setValue(10)
    with qtbot.waitSignal(w.runEnded, timeout=20000):
        w.start_run()
    recorded = w.session.store.timesteps
    assert len(recorded) == 11
    w.player.timeline.set_t(recorded[3] + 1, emit=True)
    assert w.player.timeline.t == recorded[3]
    frame = w.session.store.at(recorded[3])
    assert np.array_equal(w.canvas.image(1), frame.x0) and np.array_equal(w.canvas.image(2), frame.eps)
    qtbot.waitUntil(lambda: w.plot.t == recorded[3], timeout=2000)
    assert "DDIM" in w.maths.text()
    w.set_view("forward")
    assert w.player.timeline.marks == [] and w.view_tabs.currentIndex() == 0
    w.set_view("reverse")
    assert w.player.timeline.t == recorded[3]


def test_cancel_mid_run_keeps_the_recorded_frames(make_window, qtbot):
    model = FakeModel(delay=0.02)
    w = make_window(model)
    w.start_run()
    qtbot.waitUntil(lambda: w.session.received >= 4, timeout=10000)
    with qtbot.waitSignal(w.runEnded, timeout=5000) as ended:
        calls_at_cancel = model.calls
        w.status.cancel_button.click()
    assert ended.args[0] == "cancelled"
    assert model.calls <= calls_at_cancel + 1  # stopped within one step: at most the call in progress finished
    kept = len(w.session.store)
    assert 4 <= kept < 51 and kept >= model.calls - 1  # what was computed was recorded
    assert "Cancelled after" in w.status.message.text()
    assert w.controls.run_button.isEnabled() and not w.status.cancel_button.isVisible()
    w.player.timeline.set_t(w.session.store.timesteps[1], emit=True)
    assert np.array_equal(w.canvas.image(0), w.session.store.frames[1].x_t)


def test_a_new_run_while_running_replaces_it_cleanly(make_window, qtbot):
    w = make_window(FakeModel(delay=0.01))
    w.start_run()
    qtbot.waitUntil(lambda: w.session.received >= 2, timeout=10000)
    w.controls.seed.setValue(9)
    with qtbot.waitSignal(w.runEnded, timeout=20000, check_params_cb=lambda s, m: s == "finished"):
        w.start_run()
    assert len(w.session.store) == 51 and w.session.info.plan.seed == 9


def test_closing_the_window_during_a_run_stops_the_thread(make_window, qtbot):
    model = FakeModel(delay=0.02)
    w = make_window(model)
    w.start_run()
    qtbot.waitUntil(lambda: w.session.received >= 2, timeout=10000)
    w.close()
    assert not w.session.running
    calls = model.calls
    time.sleep(0.1)
    assert model.calls == calls  # nothing runs any more (the fixture also checks for live threads)


def test_a_model_error_arrives_as_a_readable_message(make_window, qtbot, warnings, capsys):
    w = make_window(FakeModel(error=RuntimeError("weights are corrupt"), error_at=3))
    with qtbot.waitSignal(w.runEnded, timeout=10000) as ended:
        w.start_run()
    status, message = ended.args
    assert status == "failed" and "RuntimeError" in message and "weights are corrupt" in message
    assert warnings and warnings[-1][0] == "Sampling stopped"
    assert len(w.session.store) == 2  # the steps before the error are kept
    assert "weights are corrupt" in capsys.readouterr().err  # not swallowed: the traceback is printed


def test_nan_from_the_model_stops_the_run_and_says_so(make_window, qtbot, warnings):
    w = make_window(FakeModel(nan_at=5))
    with qtbot.waitSignal(w.runEnded, timeout=10000) as ended:
        w.start_run()
    assert ended.args[0] == "failed" and "NaN" in ended.args[1]
    assert "NaN" in warnings[-1][1]


def test_a_bad_option_is_refused_before_anything_starts(make_window, warnings):
    w = make_window()
    w.controls.method.setCurrentIndex(w.controls.method.findData("ddim"))
    w.controls.sample_radio.setChecked(True)
    w.controls.steps.setValue(2)
    w.controls.spacing.setCurrentText("trailing")  # visits t = 49 and 24
    w.controls.strength.setValue(0.05)  # t0 = 2: no step of the run lies at or below it
    w.start_run()
    assert warnings and "strength" in warnings[-1][1]
    assert not w.session.running and w.session.info is None and w.view == "forward"


def test_the_gui_timer_keeps_firing_while_a_slow_model_samples(make_window, qtbot):
    """A 10 ms timer in the GUI thread never waits 50 ms while a model (20 ms a step) samples.

    On a machine whose other processes keep every core busy (load above the core count), the scheduler alone
    delays a busy thread by tens of milliseconds; there the test holds the median interval to the limit and
    the longest to 0.5 s (a GUI thread that waited for the run, about 1 s, would still fail).
    """
    w = make_window(FakeModel(delay=0.02))
    stamps: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: stamps.append(time.perf_counter()))
    w.start_run()
    qtbot.waitUntil(lambda: w.session.received >= 1, timeout=10000)  # measure while sampling, not while starting
    timer.start()
    qtbot.waitUntil(lambda: w.session.received >= 30, timeout=20000)
    timer.stop()
    with qtbot.waitSignal(w.runEnded, timeout=5000):
        w.cancel_run()
    gaps = np.diff(stamps)
    assert len(gaps) > 20
    if os.getloadavg()[0] <= (os.cpu_count() or 1):
        assert gaps.max() < 0.050, f"the GUI thread stalled for {gaps.max() * 1000:.0f} ms"
    else:
        assert np.median(gaps) < 0.050 and gaps.max() < 0.5, f"overloaded machine: gaps {np.sort(gaps)[-5:]}"
