"""The reverse view's third pane: predicted ε̂, v̂ or the flow velocity, chosen in View > Right Pane or the run bar."""

from __future__ import annotations

import numpy as np
import pytest

from diffusion_studio.app.settings import Settings
from diffusion_studio.app.third_pane_choice import SETTINGS_KEY
from diffusion_studio.session.third_pane import pane_picture, pixel_values


def _ddim_run(w, qtbot, steps: int = 10, sampler: str = "ddim", clip: bool = False):
    w.controls.method.setCurrentIndex(w.controls.method.findData(sampler))
    w.controls.steps.setValue(steps)
    w.controls.clip.setChecked(clip)
    with qtbot.waitSignal(w.runEnded, timeout=20000):
        w.start_run()
    return w.session.store


def _title(w) -> str:
    return w.canvas.titles[2].text


def test_switching_the_third_pane_changes_title_picture_and_readout(make_window, qtbot):
    w = make_window()
    store = _ddim_run(w, qtbot)
    t = store.timesteps[3]
    w.player.timeline.set_t(t, emit=True)
    frame = store.at(t)
    assert "predicted noise" in _title(w) and np.array_equal(w.canvas.image(2), frame.eps)
    choice = w.third_pane
    choice.actions[choice.kind.V].trigger()  # View > Right Pane > Predicted Velocity
    assert "predicted v" in _title(w) and "<i>v̂</i>" in _title(w)
    assert np.array_equal(w.canvas.image(2), pane_picture(frame, "v"))
    assert not np.array_equal(w.canvas.image(2), frame.eps)
    assert choice.combo.currentData() == "v"
    text = w.canvas.describe_pixel(2, 3)
    v = pixel_values(frame, "v", 2, 3)
    assert "pred. v = " in text and f"{v[0]:+.2f}" in text.split("pred. v = ")[1]
    choice.combo.setCurrentIndex(choice.combo.findData("flow"))
    choice.combo.activated.emit(choice.combo.currentIndex())  # as a person's pick in the run bar's combo
    assert "flow velocity" in _title(w) and choice.actions[choice.kind.FLOW].isChecked()
    assert np.array_equal(w.canvas.image(2), pane_picture(frame, "flow"))
    assert "flow ε−x₀ = " in w.canvas.describe_pixel(2, 3)
    tip = w.canvas.titles[2].toolTip()
    assert "ε̂ − <i>x̂</i>₀ = dy/ds" in tip and "Lipman et al. 2023" in tip and "−4 to +4" in tip
    choice.set_kind("v")
    tip = w.canvas.boxes[2].toolTip()
    assert "Salimans & Ho 2022" in tip and "−3 to +3" in tip and "last step's <i>v̂</i>" in tip


def test_scrubbing_keeps_the_chosen_pane_and_the_final_frame_shows_the_last_step(make_window, qtbot):
    w = make_window()
    store = _ddim_run(w, qtbot)
    w.third_pane.set_kind("flow")
    for t in store.timesteps[::3]:
        w.player.timeline.set_t(t, emit=True)
        assert np.array_equal(w.canvas.image(2), pane_picture(store.at(t), "flow"))
    w.player.timeline.set_t(-1, emit=True)
    final, last = store.frames[-1], store.frames[-2]
    assert final.is_final and "of the last step" in _title(w)
    assert np.array_equal(w.canvas.image(2), pane_picture(final, "flow"))
    # the finished picture is the last step's x0-hat (DDIM to t = -1), so its flow velocity is the last step's
    assert np.abs(w.canvas.image(2).astype(int) - pane_picture(last, "flow").astype(int)).max() <= 1


def test_the_choice_is_remembered_and_disabled_in_the_forward_view(make_window, tmp_path):
    path = tmp_path / "remember.ini"
    w = make_window(settings_path=path)
    assert w.third_pane.kind.value == "eps" and not w.third_pane.combo.isEnabled()  # forward view first
    w.set_view("reverse")
    assert w.third_pane.combo.isEnabled()
    w.third_pane.set_kind("v")
    w.close()
    assert Settings(path).get_json(SETTINGS_KEY) == {"third": "v"}
    again = make_window(settings_path=path)
    assert again.third_pane.kind.value == "v" and again.third_pane.actions[again.third_pane.kind.V].isChecked()


def test_a_bad_stored_choice_falls_back_to_eps(make_window, tmp_path):
    path = tmp_path / "bad.ini"
    Settings(path).set_json(SETTINGS_KEY, {"third": "nonsense"})
    w = make_window(settings_path=path)
    assert w.third_pane.kind.value == "eps"


@pytest.mark.parametrize("kind", ["v", "flow"])
def test_the_window_export_follows_the_choice(make_window, qtbot, kind):
    w = make_window()
    store = _ddim_run(w, qtbot, steps=4)
    w.third_pane.set_kind(kind)
    source = w.export_source()
    assert source.pane_names[2] != "predicted ε̂"
    assert np.array_equal(source.frame(1, (2,))[0], pane_picture(store.frames[1], kind))


def test_maths_panel_shows_ddim_as_euler_with_the_live_check(make_window, qtbot):
    w = make_window()
    store = _ddim_run(w, qtbot)
    t = store.timesteps[4]
    w.player.timeline.set_t(t, emit=True)
    qtbot.waitUntil(lambda: "DDIM is Euler" in w.maths.text(), timeout=2000)
    text, flow = w.maths.text(), w.maths.state.flow
    assert flow is not None and flow.gap is not None and flow.same(flow.gap)
    assert f"<b>{flow.sigma_t:.4g}</b>" in text and f"<b>{flow.sigma_prev:.4g}</b>" in text
    assert f"<b>{flow.s_t:.4g}</b>" in text and "the same step, up to rounding" in text
    assert "<i>x̄</i>" in text and "{" not in text  # no template left unfilled


def test_the_live_check_says_when_a_step_is_not_euler(make_window, qtbot):
    w = make_window()
    store = _ddim_run(w, qtbot, steps=10, sampler="ddpm")
    w.player.timeline.set_t(store.timesteps[4], emit=True)
    qtbot.waitUntil(lambda: "DDIM is Euler" in w.maths.text(), timeout=2000)
    flow = w.maths.state.flow
    assert flow.gap is not None and not flow.same(flow.gap) and "DDPM adds fresh noise" in w.maths.text()


def test_the_compare_window_follows_the_right_pane_choice(make_window, qtbot):
    from diffusion_studio.app.compare_hook import open_compare
    from diffusion_studio.app.compare_panes import _pane

    w = make_window()
    w.third_pane.set_kind("v")
    view = open_compare(w)
    assert view.third == "v"
    view.vary.setText("steps=4,8")
    assert view.start_compare()
    qtbot.waitUntil(lambda: not view._job.running, timeout=20000)
    assert view.panes.panes == ("x_t", "x0", "v")
    w.third_pane.set_kind("flow")
    assert view.panes.panes == ("x_t", "x0", "flow")
    frame = view.group.frames_at(view.playhead[2])[0]
    assert np.array_equal(_pane(frame, None, "flow"), pane_picture(frame, "flow"))
    assert view._spec().panels == ("x_t", "x0", "flow")  # its exports too
