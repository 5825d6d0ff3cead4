"""The compare window's step rows: each run's model calls on one log-SNR axis, labelled, following the playhead."""

from __future__ import annotations

import math

import numpy as np
import pytest

from diffusion_studio.app.compare_view import CompareWindow
from diffusion_studio.core.placement import CallKind, step_placement
from diffusion_studio.core.plan import SamplingPlan
from diffusion_studio.session.request import RunRequest

BASE = RunRequest(model="gaussian", T=40, size=8, plan=SamplingPlan(seed=2, spacing="karras"), device="cpu")


@pytest.fixture
def view(qtbot):
    w = CompareWindow(BASE)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.close()


def test_one_labelled_row_per_run_on_the_log_snr_axis(qtbot, view: CompareWindow) -> None:
    view.vary.setText("sampler=euler,heun;steps=8,5")
    assert view.start_compare()
    qtbot.waitUntil(lambda: not view._job.running, timeout=20000)
    rows = view.step_rows
    assert rows.isVisible() and [label for label, _ in rows.rows] == view.group.labels
    for run, (_, placement) in zip(view.group.runs, rows.rows, strict=True):
        expected = step_placement(run.prepared.plan, run.prepared.schedule)
        np.testing.assert_allclose(placement.log_snr, expected.log_snr)
    heun = rows.rows[1][1]
    assert heun.calls == 9 and int(heun.mask(CallKind.CORRECTION).sum()) == 4
    assert rows.x_of(-5.0) < rows.x_of(0.0) < rows.x_of(5.0) < rows.x_of(math.inf)  # noise left, clean right
    table = view.group.finest().prepared.schedule.log_snr
    view.set_position(3)
    t = view.playhead[3]
    assert rows._lam == pytest.approx(float(table[t]))
    view.set_position(len(view.playhead) - 1)  # the finished pictures: the right edge
    assert rows._lam == math.inf
    shot = rows.grab().toImage()
    assert shot.width() > 100 and shot.height() >= 2 * 18  # painted (two rows at least)


def test_a_seed_grid_has_no_rows(qtbot, view: CompareWindow) -> None:
    view.seeds.setText("0-1")
    view.base = RunRequest(model="gaussian", T=40, size=8, plan=SamplingPlan(sampler="ddim", steps=4), device="cpu")
    assert view.start_seeds()
    qtbot.waitUntil(lambda: not view._job.running, timeout=20000)
    assert not view.step_rows.isVisible() and view.step_rows.rows == []
