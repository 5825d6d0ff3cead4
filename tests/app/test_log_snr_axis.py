"""View > Log-SNR Axis: the schedule plots and the timeline laid out by lambda, with the sampler's model calls."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from diffusion_studio.app.schedule_plot import AXIS_KEY
from diffusion_studio.core.placement import CallKind, step_placement
from diffusion_studio.core.plan import SamplingPlan


def _choose(w, sampler: str, spacing: str, steps: int) -> None:
    c = w.controls
    c.method.setCurrentIndex(c.method.findData(sampler))
    c.spacing.setCurrentIndex(c.spacing.findData(spacing))
    c.steps.setValue(steps)


def _x(item) -> np.ndarray:
    return np.asarray(item.getData()[0], dtype=np.float64)


def test_the_axis_toggle_changes_the_plots_and_the_timeline(make_window):
    w = make_window()
    sched = w.controls.schedule()
    action = w.placement.action
    assert not action.isChecked() and w.plot.axis == "t" and w.player.timeline.axis == "t"
    np.testing.assert_array_equal(_x(w.plot.curves["alpha_bar"]), np.arange(sched.T))
    x_t_axis = w.player.timeline.x_of(10)
    action.setChecked(True)
    assert w.plot.axis == "log_snr" and w.plot.axis_box.isChecked()
    np.testing.assert_allclose(_x(w.plot.curves["alpha_bar"]), sched.log_snr)
    assert "log-SNR" in w.plot.plots[1].getAxis("bottom").labelText
    assert not any(p.getViewBox().xInverted() for p in w.plot.plots)  # lambda rises to the right: noise left
    timeline = w.player.timeline
    assert timeline.axis == "log_snr" and timeline.x_of(10) != pytest.approx(x_t_axis)
    assert timeline.x_of(40) < timeline.x_of(10) < timeline.x_of(0) < timeline.x_of(-1)  # noise left, clean right
    texts = [text for _, text, _ in timeline.captions()]
    assert any("log-SNR" in text for text in texts) and "x₀" in texts
    w.plot.axis_box.setChecked(False)  # the dock's box is the same setting
    assert not action.isChecked() and timeline.axis == "t"
    np.testing.assert_array_equal(_x(w.plot.curves["alpha_bar"]), np.arange(sched.T))
    assert w.plot.plots[1].getAxis("bottom").labelText == "t"


def test_the_cursor_and_the_playhead_map_through_log_snr(make_window, qtbot):
    w = make_window()
    lam = w.controls.schedule().log_snr
    w.placement.action.setChecked(True)
    w.plot.cursors[0].setValue(0.3 * lam[12] + 0.7 * lam[13])  # as a drag would: nearer lambda_13
    assert w.player.timeline.t == 13 and w.plot.t == 13
    assert all(c.value() == pytest.approx(lam[13]) for c in w.plot.cursors)  # snapped onto lambda_13
    assert np.array_equal(w.canvas.image(0), w.forward.x_t(13))
    w.player.timeline.set_t(30, emit=True)
    qtbot.waitUntil(lambda: w.plot.t == 30, timeout=2000)
    assert all(c.value() == pytest.approx(lam[30]) for c in w.plot.cursors)
    timeline = w.player.timeline
    for t in (49, 30, 5, 1, 0, -1):
        assert timeline.t_at(timeline.x_of(t)) == t
    y = int(timeline._track().center().y())
    qtbot.mouseClick(timeline, Qt.MouseButton.LeftButton, pos=QPoint(round(timeline.x_of(7)), y))
    assert timeline.t == 7
    qtbot.waitUntil(lambda: w.plot.t == 7, timeout=2000)  # the cursor follows right after the canvas


def test_placement_of_the_current_settings_before_a_run(make_window):
    w = make_window()
    sched = w.controls.schedule()
    w.placement.action.setChecked(True)
    _choose(w, "euler", "karras", 10)
    expected = step_placement(SamplingPlan(sampler="euler", steps=10, spacing="karras"), sched)
    np.testing.assert_allclose(_x(w.plot.run_steps), expected.log_snr)
    np.testing.assert_allclose(w.plot.run_steps.getData()[1], 1 / (1 + np.exp(-expected.log_snr)))  # on abar
    assert len(w.plot.corrections.getData()[0]) == 0
    steps, corrections = w.player.timeline.call_columns()
    assert sum(b - a + 1 for a, b in steps) >= 8 and corrections == []  # ten ticks (two may share a column)
    before = w.player.timeline.grab().toImage()
    _choose(w, "heun", "karras", 10)
    assert w.player.timeline.grab().toImage() != before  # the cached background was redrawn with the new calls
    heun = step_placement(SamplingPlan(sampler="heun", steps=10, spacing="karras"), sched)
    np.testing.assert_allclose(_x(w.plot.corrections), heun.log_snr[heun.mask(CallKind.CORRECTION)])
    assert len(_x(w.plot.corrections)) == 9
    assert w.player.timeline.call_columns()[1]
    assert "▲ 2nd" in w.plot.plots[1].titleLabel.text
    w.placement.action.setChecked(False)  # the t axis: at the model times
    np.testing.assert_allclose(_x(w.plot.run_steps), heun.time[heun.mask(CallKind.STEP)])


def test_a_run_shows_its_own_placement_and_the_playhead_snaps_by_log_snr(make_window, qtbot):
    w = make_window()
    _choose(w, "ddim", "trailing", 5)
    w.placement.action.setChecked(True)
    with qtbot.waitSignal(w.runEnded, timeout=20000):
        w.start_run()
    info, timeline = w.session.info, w.player.timeline
    assert w.view == "reverse" and timeline.axis == "log_snr"
    np.testing.assert_allclose(_x(w.plot.run_steps), info.schedule.log_snr[info.timesteps])
    _choose(w, "euler", "karras", 3)  # the settings change, the run on screen does not
    assert len(_x(w.plot.run_steps)) == 5
    steps = sorted(info.timesteps)  # ascending t
    a, b = steps[1], steps[2]
    x = timeline.x_of(a) + 0.3 * (timeline.x_of(b) - timeline.x_of(a))  # nearer a on screen
    qtbot.mouseClick(timeline, Qt.MouseButton.LeftButton, pos=QPoint(round(x), int(timeline._track().center().y())))
    assert timeline.t == a


def test_the_axis_choice_is_remembered(make_window, tmp_path):
    path = tmp_path / "axis.ini"
    first = make_window(settings_path=path)
    first.placement.action.setChecked(True)
    assert first.plot.toggle_state()[AXIS_KEY] is True
    first.close()
    second = make_window(settings_path=path)
    assert second.plot.axis == "log_snr" and second.placement.action.isChecked()
    assert second.player.timeline.axis == "log_snr"


def test_plain_run_steps_follow_the_axis_too(qtbot):
    from diffusion_studio.app.schedule_plot import SchedulePlot
    from diffusion_studio.core.schedules import make_schedule

    plot = SchedulePlot()  # alone: in the window the placement link owns the marks
    qtbot.addWidget(plot)
    sched = make_schedule("linear", 50)
    plot.set_schedule(sched)
    plot.set_run_steps([40, 20, 0])
    np.testing.assert_array_equal(_x(plot.run_steps), [40, 20, 0])
    np.testing.assert_allclose(plot.run_steps.getData()[1], sched.alpha_bars[[40, 20, 0]])
    plot.set_axis("log_snr")
    np.testing.assert_allclose(_x(plot.run_steps), sched.log_snr[[40, 20, 0]])
    assert "run steps" in plot.plots[1].titleLabel.text
    assert plot.t_of_x(float(sched.log_snr[33])) == 33 and plot.x_of_t(-1) == sched.log_snr[0]


def test_the_playhead_label_names_lambda_on_the_log_snr_axis(make_window, qtbot):
    """On the log-SNR axis the label beside the exact-t box gives the step's λ (the t stays in the box)."""
    w = make_window()
    _choose(w, "euler", "karras", 4)
    with qtbot.waitSignal(w.runEnded, timeout=20000):
        w.start_run()
    frame = w.session.store.frames[1]
    w.player.timeline.set_t(frame.t, emit=True)
    assert w.player.where.text().endswith(f"t = {frame.t}")
    w.placement.action.setChecked(True)
    w.player.timeline.set_t(frame.t, emit=True)
    lam = np.log(frame.pred_abar / (1 - frame.pred_abar))
    assert w.player.where.text() == f"step 2/4   ·   λ = {lam:.2f}"
