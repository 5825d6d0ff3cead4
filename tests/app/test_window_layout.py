"""The window at laptop sizes (1280x720, 1366x768): Run and both views visible and unclipped, timeline captions
apart, long file names elided instead of widening the Controls dock, an exact-t box, plots in timeline order."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PySide6.QtCore import QRect
from PySide6.QtWidgets import QWidget

SIZES = [(1280, 720), (1366, 768)]
LONG_NAME = "my_cat_photo_from_summer_holiday_2024_final.png"


def _settle(qtbot, window, size) -> None:
    window.resize(*size)
    qtbot.waitUntil(lambda: window.size().width() == size[0] and window.size().height() == size[1], timeout=2000)
    qtbot.wait(50)  # let the layouts settle


def _window_rect(widget: QWidget) -> QRect:
    top_left = widget.mapTo(widget.window(), widget.rect().topLeft())
    return QRect(top_left, widget.size())


def _assert_fully_shown(widget: QWidget, text: str) -> None:
    window = widget.window()
    assert widget.isVisible(), f"{text!r} is hidden"
    rect = _window_rect(widget)
    assert window.rect().contains(rect), f"{text!r} at {rect} is outside the window {window.rect()}"
    needed = widget.fontMetrics().horizontalAdvance(text)
    assert widget.width() >= needed + 4, f"{text!r} needs {needed} px but has {widget.width()}"
    assert widget.height() >= widget.fontMetrics().height()


@pytest.mark.parametrize("size", SIZES)
def test_run_and_both_views_are_visible_and_unclipped(make_window, qtbot, size):
    w = make_window()
    _settle(qtbot, w, size)
    for name, button in w.view_switch.buttons.items():
        _assert_fully_shown(button, button.text())
        assert name in button.text().lower()
    _assert_fully_shown(w.run_bar.run_button, w.run_bar.run_button.text())
    _assert_fully_shown(w.run_bar.cancel_button, w.run_bar.cancel_button.text())
    assert w.controls.run_button is w.run_bar.run_button  # the old name still reaches it


@pytest.mark.parametrize("size", SIZES)
def test_timeline_spans_the_window_and_its_captions_never_overlap(make_window, qtbot, size):
    w = make_window(steps_T=1000)
    _settle(qtbot, w, size)
    timeline = w.player.timeline
    assert timeline.width() > 0.6 * w.width()  # under the panes and the docks, not squeezed between docks
    for width in (timeline.width(), 420, 260, 160):
        timeline.resize(width, timeline.height())
        captions = timeline.captions()
        texts = [text for _, text, _ in captions]
        assert "x₀" in texts and str(timeline.t_max) in texts
        for i, (a, ta, _) in enumerate(captions):
            assert a.left() >= 0 and a.right() <= width + 0.5, f"{ta!r} leaves the timeline at width {width}"
            for b, tb, _ in captions[i + 1:]:
                assert not a.intersects(b), f"{ta!r} overlaps {tb!r} at width {width}"
            assert a.width() >= timeline.fontMetrics().horizontalAdvance(ta) - 0.5


@pytest.mark.parametrize("size", SIZES)
def test_a_long_file_name_is_elided_and_does_not_widen_the_dock(make_window, qtbot, picture, tmp_path, size):
    w = make_window()
    _settle(qtbot, w, size)
    dock = w.docks[0]
    before = dock.width()
    long_path = tmp_path / LONG_NAME
    shutil.copy(picture, long_path)
    assert w.open_image(long_path)
    qtbot.wait(50)
    assert dock.width() == before
    viewport = w.controls_scroll.viewport()
    assert w.controls.width() <= viewport.width()  # nothing clipped at the right edge
    label = w.controls.own_label
    assert label.full_text() == LONG_NAME and label.toolTip() == LONG_NAME
    assert label.text() != LONG_NAME and "…" in label.text()
    assert label.fontMetrics().horizontalAdvance(label.text()) <= label.width() - max(label.indent(), 0)
    assert label.text().endswith("final.png")  # shortened in the middle: the end of the name stays
    assert w.controls_scroll.verticalScrollBarPolicy().name == "ScrollBarAsNeeded"


def test_first_launch_fills_the_available_screen(make_window):
    w = make_window()  # a fresh settings file: nothing to restore
    available = w.screen().availableGeometry()
    assert w.minimumSizeHint().width() <= 800  # fits small screens too
    assert w.frameGeometry().width() >= available.width() - 8 and w.frameGeometry().height() >= available.height() - 40
    assert w.frameGeometry().width() <= available.width() + 8


def test_the_t_box_shows_and_takes_an_exact_t(make_window, qtbot):
    w = make_window()
    box = w.player.t_box
    w.player.timeline.set_t(30, emit=True)
    assert box.value() == 30
    box.setValue(17)
    assert w.player.timeline.t == 17
    assert np.array_equal(w.canvas.image(0), w.forward.x_t(17))
    box.setValue(-1)
    assert w.player.timeline.t == -1 and box.text() == "x₀"
    assert box.maximum() == w.player.timeline.t_max == 49


def test_the_t_box_snaps_to_recorded_steps_in_the_reverse_view(make_window, qtbot):
    w = make_window()
    w.controls.method.setCurrentIndex(w.controls.method.findData("ddim"))
    w.controls.steps.setValue(5)
    with qtbot.waitSignal(w.runEnded, timeout=20000):
        w.start_run()
    recorded = w.session.store.timesteps
    w.player.t_box.setValue(recorded[2] + 1)
    assert w.player.timeline.t == recorded[2] and w.player.t_box.value() == recorded[2]


def test_plots_run_in_the_direction_of_the_timeline(make_window):
    w = make_window()
    timeline = w.player.timeline
    assert timeline.x_of(40) < timeline.x_of(10)  # high t on the left
    for plot in w.plot.plots:
        box = plot.getViewBox()
        assert box.xInverted()
        left, right = box.mapViewToScene(_point(40)).x(), box.mapViewToScene(_point(10)).x()
        assert left < right


def test_small_pictures_fill_the_panes(make_window, qtbot):
    w = make_window()  # 32 px pictures
    _settle(qtbot, w, (1280, 720))
    box = w.canvas.boxes[0]
    shown = box.mapViewToScene(_point(32)).x() - box.mapViewToScene(_point(0)).x()
    assert shown >= 0.9 * min(box.width(), box.height())  # scaled up to the pane, not drawn at 32 px


def _point(x: float):
    from PySide6.QtCore import QPointF

    return QPointF(x, 0)
