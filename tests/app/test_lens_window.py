"""The Lenses window: reruns the current settings, follows the playhead, draws spectrum and trajectory."""

from __future__ import annotations

import time

import numpy as np
import pytest


def test_lenses_follow_the_playhead(make_window, qtbot):
    w = make_window()
    w.controls.method.setCurrentIndex(w.controls.method.findData("ddim"))
    w.controls.steps.setValue(10)
    with qtbot.waitSignal(w.runEnded, timeout=20000):
        w.start_run()
    w.open_lenses()
    lenses = w.lenses
    qtbot.waitUntil(lambda: "steps." in lenses.status.text(), timeout=20000)
    assert len(lenses.frames) == 10 and [f.t for f in lenses.frames] == w.session.store.timesteps[:-1]
    coords = lenses.trajectory.coords
    curve = lenses.error.curve  # the closed-form model: the reference is the exact posterior mean
    assert curve is not None and len(curve.x0) == 10 and curve.x_t[0] < 1e-5 and curve.final < 0.5
    assert coords["x_t"].shape == (11, 2) and coords["x0"].shape == (10, 2)  # x_t: the steps and the final image
    recorded = w.session.store.timesteps
    for k in (0, 4, 9):
        start = time.perf_counter()
        with qtbot.waitSignal(lenses.updated, timeout=2000):
            w.player.timeline.set_t(recorded[k], emit=True)
        elapsed = time.perf_counter() - start
        shown = lenses.spectrum.shown
        assert shown is not None and lenses.spectrum.title().startswith(f"t = {recorded[k]}")
        assert shown.noise_floor == np.float64(1 - lenses.frames[k].alpha_bar)
        assert lenses.trajectory.marker_position("x_t") == tuple(coords["x_t"][k])
        assert lenses.trajectory.marker_position("x0") == tuple(coords["x0"][k])
        sigma, err = lenses.error.marker_position()
        assert sigma == pytest.approx(curve.sigmas[k]) and err == pytest.approx(max(curve.x0[k], 1e-7))
        assert elapsed < 1.0  # generous on a shared CI machine; benchmarks/bench_core.py times the lens itself
    with qtbot.waitSignal(lenses.updated, timeout=2000):
        w.player.timeline.set_t(-1, emit=True)
    assert lenses.trajectory.marker_position("x_t") == tuple(coords["x_t"][-1])
    lenses.close()


def test_cfg_difference_panel_shows_eps_c_minus_eps_u(make_window, qtbot):
    w = make_window()
    c = w.controls
    c.model.setCurrentIndex(c.model.findData("digits"))
    c.method.setCurrentIndex(c.method.findData("ddim"))
    c.steps.setValue(8)
    c.class_combo.setCurrentIndex(max(1, c.class_combo.findData(3)))
    c.guidance.setValue(3.0)
    w.open_lenses()
    lenses = w.lenses
    qtbot.waitUntil(lambda: "whole run" in lenses.status.text(), timeout=60000)
    assert all(f.cfg_delta is not None for f in lenses.frames)
    with qtbot.waitSignal(lenses.updated, timeout=2000):
        w.player.timeline.set_t(lenses.frames[2].t, emit=True)
    assert lenses.cfg.shown and "ε̂(c) − ε̂(∅) at t = " in lenses.cfg.caption.text()
    assert lenses.cfg.image.image is not None and lenses.cfg.image.image.shape[:2] == (28, 28)
    lenses.close()


@pytest.mark.parametrize(("free", "rows"), [((1280, 690), 2), ((1366, 738), 2), ((1920, 1050), 1)])
def test_the_lenses_window_fits_the_free_desktop(qtbot, free, rows):
    """At 1280x720 the four panels in one row ran off the screen; a laptop gets two rows of two."""
    from PySide6.QtCore import QRect, Qt

    from diffusion_studio.app import lens_window
    from diffusion_studio.app.lens_window import LensWindow

    lenses = LensWindow()
    qtbot.addWidget(lenses)
    split = lenses._arrange(QRect(0, 0, *free))
    assert lenses.width() <= free[0] and lenses.height() <= free[1]
    assert (split.orientation() == Qt.Orientation.Vertical) == (rows == 2)
    assert (free[0] >= lens_window.WIDE_ENOUGH) == (rows == 1)
