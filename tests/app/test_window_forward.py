"""The window's forward view: loading pictures (good and bad), scrubbing, plots, schedule changes, keys."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from diffusion_studio.core.schedules import make_schedule
from diffusion_studio.paths import sample_images


def test_window_opens_on_a_sample_in_the_forward_view(make_window):
    w = make_window()
    assert w.view == "forward" and w.forward is not None
    assert w.image_name in {p.name for p in sample_images()}
    assert max(w.forward.image.shape[:2]) == 32
    assert np.array_equal(w.canvas.image(1), w.forward.image)  # t = -1: x_t is the clean picture
    assert np.array_equal(w.canvas.image(2), w.forward.eps_uint8)


def test_loading_an_image_shows_it(make_window, picture, qtbot):
    w = make_window()
    with qtbot.waitSignal(w.imageLoaded, timeout=2000):
        assert w.open_image(picture)
    assert w.image_name == "gradient.png" and w.forward.image.shape == (24, 32, 3)  # fit to 32 px, multiples of 8
    assert np.array_equal(w.canvas.image(0), w.forward.image)
    assert w.player.timeline.t == -1 and w.controls.source() == "own"
    assert "gradient.png" in w.windowTitle()
    assert w.settings.recent_files()[0].endswith("gradient.png")


def test_a_bad_image_shows_a_dialog_and_changes_nothing(make_window, tmp_path, warnings):
    w = make_window()
    before_image, before_name = w.forward.image, w.image_name
    bad = tmp_path / "notes.png"
    bad.write_text("this is not a picture")
    assert not w.open_image(bad)
    assert not w.open_image(tmp_path / "missing.jpg")
    assert len(warnings) == 2
    assert "notes.png" in warnings[0][1] and "does not exist" in warnings[1][1]
    assert w.forward.image is before_image and w.image_name == before_name and w.own_path is None


def test_dropping_a_file_opens_it(make_window, picture):
    w = make_window()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(picture)])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    w.dropEvent(event)
    assert w.image_name == "gradient.png"


def test_scrubbing_updates_canvas_plot_cursor_and_maths(make_window, qtbot):
    w = make_window()
    timeline = w.player.timeline
    clean = w.canvas.image(0).copy()
    paints = w.canvas.paints
    middle = QPoint(round(timeline.x_of(25)), int(timeline._track().center().y()))
    qtbot.mouseClick(timeline, Qt.MouseButton.LeftButton, pos=middle)
    t = timeline.t
    assert abs(t - 25) <= 1
    assert not np.array_equal(w.canvas.image(0), clean)
    assert np.array_equal(w.canvas.image(0), w.forward.x_t(t))  # at once
    qtbot.waitUntil(lambda: w.plot.t == t, timeout=2000)  # right after the canvas has been painted
    assert all(round(c.value()) == t for c in w.plot.cursors)
    assert f"t = {t}" in w.maths.text()
    qtbot.waitUntil(lambda: w.canvas.paints > paints, timeout=2000)  # the frame was painted


def test_dragging_the_plot_cursor_moves_the_timeline(make_window):
    w = make_window()
    w.plot.cursors[1].setValue(12.4)  # as a drag would; emits sigPositionChanged
    assert w.player.timeline.t == 12 and w.plot.t == 12
    assert np.array_equal(w.canvas.image(0), w.forward.x_t(12))
    assert all(round(c.value()) == 12 for c in w.plot.cursors)


def test_changing_the_schedule_redraws_the_plots(make_window):
    w = make_window()
    w.player.timeline.set_t(40, emit=True)
    w.controls.kind.setCurrentText("cosine")
    cosine = make_schedule("cosine", 50)
    assert np.allclose(w.plot.curve_data("alpha_bar"), cosine.alpha_bars)
    assert np.allclose(w.plot.curve_data("beta"), cosine.betas)
    assert np.array_equal(w.canvas.image(0), w.forward.x_t(40))
    w.controls.T.setValue(20)
    assert len(w.plot.curve_data("alpha_bar")) == 20
    assert w.player.timeline.t_max == 19 and w.player.timeline.t <= 19


def test_curve_toggles_show_and_hide(make_window):
    w = make_window()
    w.plot.toggles["log_snr"].setChecked(True)
    assert w.plot.curves["log_snr"].isVisible() and w.plot.plots[2].isVisible()
    w.plot.toggles["log_snr"].setChecked(False)
    assert not w.plot.plots[2].isVisible()


def test_keyboard_moves_the_playhead_and_space_plays(make_window, qtbot):
    w = make_window()
    timeline = w.player.timeline
    timeline.setFocus()
    qtbot.keyClick(timeline, Qt.Key.Key_Home)
    assert timeline.t == 49
    qtbot.keyClick(timeline, Qt.Key.Key_Right)
    assert timeline.t == 48
    qtbot.keyClick(timeline, Qt.Key.Key_PageDown)
    assert timeline.t == 38
    qtbot.keyClick(timeline, Qt.Key.Key_End)
    assert timeline.t == -1
    qtbot.keyClick(timeline, Qt.Key.Key_Space)  # forward view plays towards noise
    assert w.player.playing
    qtbot.waitUntil(lambda: timeline.t > 5, timeout=3000)
    qtbot.keyClick(timeline, Qt.Key.Key_Space)
    assert not w.player.playing


def test_resample_noise_changes_eps_and_chain_view_fills_in(make_window, qtbot):
    w = make_window()
    eps = w.forward.eps_uint8
    w.resample_noise()
    assert not np.array_equal(eps, w.forward.eps_uint8)
    w.player.timeline.set_t(30, emit=True)
    with qtbot.waitSignal(w.chainReady, timeout=5000):
        w.set_chain_visible(True)
    assert w.chain is not None and w.chain.at(30) is not None
    assert np.array_equal(w.canvas.image(1), w.chain.at(30)[1])
    w.set_chain_visible(False)
    assert np.array_equal(w.canvas.image(1), w.forward.image)


def test_controls_that_cannot_apply_are_disabled(make_window):
    w = make_window()
    c = w.controls
    assert not c.eta.isEnabled() and c.variance.isEnabled()  # DDPM
    c.method.setCurrentIndex(c.method.findData("ddim"))
    assert c.eta.isEnabled() and not c.variance.isEnabled()
    assert not c.strength.isEnabled()  # pure noise start
    c.sample_radio.setChecked(True)
    assert c.strength.isEnabled()
    assert not c.own_radio.isEnabled()  # nothing of one's own loaded yet
    c.model.setCurrentIndex(c.model.findData("gaussian"))
    assert not c.class_combo.isEnabled() and not c.guidance.isEnabled()
    c.model.setCurrentIndex(c.model.findData("ideal"))
    assert c.class_combo.isEnabled() and not c.guidance.isEnabled()
    c.class_combo.setCurrentIndex(1)
    assert c.guidance.isEnabled()


def test_the_readout_names_the_values_under_the_cursor(make_window):
    w = make_window()
    w.player.timeline.set_t(20, emit=True)
    text = w.canvas.describe_pixel(3, 5)
    assert text.startswith("pixel (5, 3)") and "xₜ = " in text and "ε = " in text
    value = float(text.split("xₜ = ")[1].split()[0])
    assert abs(value - (w.canvas.image(0)[3, 5, 0] / 127.5 - 1)) < 1e-2


def test_a_trained_model_fixes_schedule_and_size(qtbot):
    from diffusion_studio.app.controls import ControlsPanel
    from diffusion_studio.models.base import ModelInfo

    trained = ModelInfo(name="digits", image_size=28, channels=1, class_names=tuple("0123456789"),
                        schedule={"kind": "cosine", "T": 200}, origin="built-in")
    panel = ControlsPanel([ModelInfo(name="ideal", image_size=None, channels=None), trained], sample_images())
    qtbot.addWidget(panel)
    panel.model.setCurrentIndex(1)
    assert not panel.kind.isEnabled() and not panel.T.isEnabled() and not panel.size.isEnabled()
    assert panel.schedule().T == 200 and panel.class_combo.count() == 11
    panel.class_combo.setCurrentIndex(4)
    request = panel.request(None)
    assert request.schedule is None and request.T is None and request.class_label == 3
    assert request.plan.strength is None  # nothing to start from: pure noise


def test_zooming_one_pane_zooms_all_three(make_window):
    w = make_window()
    first, *others = w.canvas.boxes
    first.setRange(xRange=(4, 12), yRange=(6, 14), padding=0)  # as a mouse zoom would
    for box in others:
        (x0, x1), (y0, y1) = box.viewRange()
        assert abs(x0 - first.viewRange()[0][0]) < 1e-6 and abs(x1 - first.viewRange()[0][1]) < 1e-6
        assert abs(y0 - first.viewRange()[1][0]) < 1e-6
    w.canvas.reset_zoom()
    assert all(all(box.autoRangeEnabled()) for box in w.canvas.boxes)


def test_classifier_scale_applies_only_with_a_classifier_and_a_class(qtbot):
    from diffusion_studio.app.controls import ControlsPanel
    from diffusion_studio.models import describe_models

    infos = {i.name: i for i in describe_models()}
    panel = ControlsPanel([infos["ideal"], infos["digits"], infos["emoji"]], sample_images())
    qtbot.addWidget(panel)
    panel.model.setCurrentIndex(panel.model.findData("digits"))
    assert not panel.classifier_scale.isEnabled()  # no class chosen yet
    panel.class_combo.setCurrentIndex(panel.class_combo.findData(7))
    assert panel.classifier_scale.isEnabled()
    panel.classifier_scale.setValue(3.0)
    request = panel.request(None)
    assert request.classifier_scale == 3.0 and request.class_label == 7
    panel.model.setCurrentIndex(panel.model.findData("emoji"))  # ships no classifier
    panel.class_combo.setCurrentIndex(1)
    assert not panel.classifier_scale.isEnabled()
    assert panel.request(None).classifier_scale == 0.0
