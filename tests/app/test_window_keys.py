"""Keyboard and state: playhead keys work wherever the focus is (text fields aside), Space never starts a run,
classes carry over by name, and "Pure noise" survives a change of picture size."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from diffusion_studio.app.controls import ControlsPanel
from diffusion_studio.models.base import ModelInfo
from diffusion_studio.paths import sample_images


@pytest.fixture
def active_window(make_window, qtbot):
    def make(*args, **kwargs):
        w = make_window(*args, **kwargs)
        w.activateWindow()
        qtbot.waitUntil(w.isActiveWindow, timeout=2000)
        return w
    return make


def _focus(qtbot, widget) -> None:
    widget.setFocus(Qt.FocusReason.OtherFocusReason)
    qtbot.waitUntil(widget.hasFocus, timeout=1000)


@pytest.mark.parametrize("where", ["pane", "checkbox", "dice button", "combo"])
def test_playhead_keys_work_with_focus_anywhere(active_window, qtbot, where):
    w = active_window()
    target = {"pane": w.canvas.view, "checkbox": w.controls.clip, "dice button": w.controls.dice,
              "combo": w.controls.method}[where]
    target.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
    _focus(qtbot, target)
    timeline = w.player.timeline
    method = w.controls.method.currentIndex()
    qtbot.keyClick(target, Qt.Key.Key_Home)
    assert timeline.t == 49
    qtbot.keyClick(target, Qt.Key.Key_Right)
    assert timeline.t == 48
    qtbot.keyClick(target, Qt.Key.Key_PageDown)
    assert timeline.t == 38
    qtbot.keyClick(target, Qt.Key.Key_PageUp)
    qtbot.keyClick(target, Qt.Key.Key_Left)
    assert timeline.t == 49
    qtbot.keyClick(target, Qt.Key.Key_End)
    assert timeline.t == -1
    clip = w.controls.clip.isChecked()
    qtbot.keyClick(target, Qt.Key.Key_Space)
    assert w.player.playing
    assert w.controls.clip.isChecked() == clip  # Space did not toggle the focused checkbox
    qtbot.keyClick(target, Qt.Key.Key_Space)
    assert not w.player.playing
    assert w.controls.method.currentIndex() == method  # the arrows moved the playhead, not the combo


def test_text_fields_keep_their_keys(active_window, qtbot):
    w = active_window()
    timeline = w.player.timeline
    timeline.set_t(20, emit=True)
    seed = w.controls.seed
    seed.setValue(5)
    _focus(qtbot, seed)
    qtbot.keyClick(seed, Qt.Key.Key_PageUp)  # a spin box steps by ten
    qtbot.keyClick(seed, Qt.Key.Key_End)
    qtbot.keyClick(seed, Qt.Key.Key_Left)
    qtbot.keyClick(seed, Qt.Key.Key_Space)
    assert seed.value() == 15
    assert timeline.t == 20 and not w.player.playing


def test_space_after_clicking_run_plays_and_never_starts_a_run(active_window, qtbot):
    w = active_window()
    run = w.run_bar.run_button
    with qtbot.waitSignal(w.runEnded, timeout=20000):
        qtbot.mouseClick(run, Qt.MouseButton.LeftButton)
    info = w.session.info
    ended = []
    w.runEnded.connect(lambda *a: ended.append(a))
    qtbot.keyClick(w.focusWidget() or w, Qt.Key.Key_Space)
    assert w.player.playing
    qtbot.keyClick(w.focusWidget() or w, Qt.Key.Key_Space)
    qtbot.wait(100)
    assert w.session.info is info and not w.session.running and not ended


def test_a_class_carries_over_by_name_or_falls_back_to_unconditional(qtbot):
    def model(name, classes):
        return ModelInfo(name=name, image_size=8, channels=1, class_names=classes, schedule={"kind": "linear",
                         "T": 10}, origin="built-in")

    panel = ControlsPanel([model("a", ("cat", "dog")), model("b", ("dog", "bird", "cat")), model("c", ("fish",))],
                          sample_images())
    qtbot.addWidget(panel)
    assert panel.set_class_name("cat")
    panel.model.setCurrentIndex(1)
    assert panel.class_name() == "cat" and panel.request(None).class_label == 2  # b's "cat", not b's index 0
    panel.model.setCurrentIndex(2)
    assert panel.class_name() is None and panel.request(None).class_label is None
    assert not panel.set_class_name("dog") and panel.class_name() is None


def test_the_class_is_remembered_by_name(qtbot):
    infos = [ModelInfo(name="a", image_size=8, channels=1, class_names=("x", "y", "z"),
                       schedule={"kind": "linear", "T": 10}, origin="built-in")]
    first = ControlsPanel(infos, sample_images())
    qtbot.addWidget(first)
    first.set_class_name("z")
    second = ControlsPanel(infos, sample_images())
    qtbot.addWidget(second)
    second.restore(first.state())
    assert second.class_name() == "z"


def test_pure_noise_stays_chosen_when_the_picture_size_changes(make_window, picture):
    w = make_window()
    assert w.open_image(picture)
    w.controls.noise_radio.setChecked(True)
    w.controls.size.setValue(48)
    w.controls.sizeChanged.emit(48)
    assert w.controls.source() == "noise"
    assert max(w.forward.image.shape[:2]) == 48  # the picture was reloaded at the new size all the same
    assert w.controls.request(w.forward.image).plan.strength is None
