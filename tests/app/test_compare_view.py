"""The compare window: runs side by side on one playhead, seed grids, branch from here, continue, the hook."""

from __future__ import annotations

import numpy as np
import pytest

from diffusion_studio.app.compare_view import CompareWindow
from diffusion_studio.core.cancel import CancelToken
from diffusion_studio.core.plan import SamplingPlan
from diffusion_studio.session.request import RunRequest, prepare_run
from diffusion_studio.session.run import Run

BASE = RunRequest(model="gaussian", T=40, size=8, plan=SamplingPlan(seed=2), device="cpu")


@pytest.fixture
def view(qtbot):
    w = CompareWindow(BASE)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.close()


def _wait(qtbot, w: CompareWindow) -> None:
    qtbot.waitUntil(lambda: not w._job.running, timeout=20000)


def test_compare_shows_runs_on_one_playhead(qtbot, view: CompareWindow) -> None:
    view.vary.setText("sampler=ddpm,ddim;steps=40,8")
    assert view.start_compare()
    _wait(qtbot, view)
    runs = view.group.runs
    assert [r.label for r in runs] == ["DDPM, 40 steps", "DDIM, 8 steps"]
    np.testing.assert_array_equal(runs[0].steps[0].x_t, runs[1].steps[0].x_t)  # the same start noise
    assert "Model calls: DDPM, 40 steps: 40, DDIM, 8 steps: 8" in view.status.text()
    assert view.slider.maximum() == 40  # 40 steps and the finished picture
    before = view.panes.paints
    view.set_position(20)
    qtbot.waitUntil(lambda: view.panes.paints > before)
    assert view.panes.t == view.playhead[20] and view.where.text() == f"t = {view.playhead[20]}"
    view.diff.setChecked(True)
    assert view.panes.panes[-1] == "diff"


def test_bad_vary_text_says_why(view: CompareWindow) -> None:
    view.vary.setText("sampler=ddpm")
    assert not view.start_compare()
    assert "2 to 4 runs" in view.status.text()


def test_seed_grid(qtbot, view: CompareWindow) -> None:
    view.seeds.setText("0-3")
    view.base = RunRequest(model="gaussian", T=40, size=8, plan=SamplingPlan(sampler="ddim", steps=5), device="cpu")
    assert view.start_seeds()
    _wait(qtbot, view)
    assert view.group.labels == ["seed 0", "seed 1", "seed 2", "seed 3"]
    assert view.panes.columns == 2 and view.panes.panes == ("x_t",)


def test_branch_from_here(qtbot, view: CompareWindow) -> None:
    view.vary.setText("variance=beta,beta_tilde")  # run 1 is DDPM (stochastic): branches can differ
    assert view.start_compare()
    _wait(qtbot, view)
    view.set_position(20)
    view.branch_count.setValue(3)
    assert view.branch_here()
    _wait(qtbot, view)
    b = view.branches
    assert b is not None and len(b.branches) == 3 and b.at_t == view.playhead[20]
    assert [r.model_calls for r in b.branches] == [40 - b.at_index] * 3
    assert len(view.group.runs) == 4 and view.panes.extras  # trunk, 3 branches, and the spread block


def test_cancelled_runs_continue(qtbot, view: CompareWindow) -> None:
    cancel = CancelToken()
    prepared = prepare_run(BASE)
    part = Run.start(prepared, "one", cancel=cancel, on_step=lambda s: cancel.cancel() if s.index == 9 else None)
    view._runs = [part]
    view._show_group()
    view._set_running(False)
    assert view.continue_button.isEnabled()
    assert view.continue_runs()
    _wait(qtbot, view)
    assert view._runs[0].finished and view._runs[0].model_calls == 30
    whole = Run.start(prepare_run(BASE), "whole")
    np.testing.assert_array_equal(view._runs[0].final.x_t, whole.final.x_t)


def test_main_window_hook_opens_and_closes_it(make_window) -> None:
    window = make_window()
    actions = [a for a in window.menuBar().actions() if a.text().replace("&", "") == "Run"]
    names = [a.text() for a in actions[0].menu().actions()]
    assert "Compare and &Branch…" in names
    from diffusion_studio.app.compare_hook import open_compare

    view = open_compare(window)
    assert view.isVisible() and view.base.model == window.controls.request(window.forward.image).model
    window.close()
    assert not view.isVisible()


def test_runs_share_the_frame_store_budget_and_say_what_they_dropped(qtbot) -> None:
    from diffusion_studio.session.frame_store import MemoryBudget

    memory = MemoryBudget(80_000)
    memory.reserve(1, 20_000)  # what the main window's run already holds
    view = CompareWindow(BASE, memory=memory)
    qtbot.addWidget(view)
    view.vary.setText("sampler=ddpm,ddim;steps=40,20")
    assert view.start_compare()
    _wait(qtbot, view)
    runs = view.group.runs
    assert all(r.budget == 30_000 for r in runs)  # (80,000 - 20,000) split between two runs
    assert runs[0].stride > 1 and runs[1].stride == 1  # 40 x 7 x 192 bytes do not fit, 20 x 7 x 192 do
    assert 20_000 < memory.reserved <= 80_000
    assert "memory limit" in view.status.text()
    view.close()
    assert memory.reserved == 20_000  # the window's share is given back


def test_exports_what_is_on_screen(qtbot, view: CompareWindow, tmp_path) -> None:
    from PIL import Image

    view.vary.setText("guidance=1,1;steps=10,5")
    view.base = RunRequest(model="gaussian", T=40, size=8, plan=SamplingPlan(sampler="ddim"), device="cpu")
    assert view.start_compare()
    _wait(qtbot, view)
    assert view.export_gif_button.isEnabled()
    view.diff.setChecked(True)
    view.reference.setValue(2)
    assert view.group.reference == 1
    for name, kind in (("c.gif", "gif"), ("c.png", "png")):
        view.export(tmp_path / name, kind)
        qtbot.waitUntil(lambda: not view._export_job.running, timeout=20000)
        with Image.open(tmp_path / name) as im:
            assert im.width > 2 * 4 * 8  # two runs of four panes
    assert "Wrote" in view.status.text()


def test_filmstrip_of_the_reference_run_marks_its_decision_step(qtbot, view: CompareWindow) -> None:
    view.vary.setText("steps=10,5")
    view.base = RunRequest(model="gaussian", T=40, size=8, plan=SamplingPlan(sampler="ddim"), device="cpu")
    assert view.start_compare()
    _wait(qtbot, view)
    strip = view.strip.strip
    assert view.strip.isVisible() and strip is not None
    assert strip.decision in strip.steps and strip.steps[-1] is view.group.runs[0].steps[-1]
    view.reference.setValue(2)
    assert view.strip.strip.steps[-1] is view.group.runs[1].steps[-1]
    view.strip_box.setChecked(False)
    assert not view.strip.isVisible()


def test_branch_from_here_continues_the_main_windows_run(make_window, qtbot) -> None:
    from diffusion_studio.app.compare_hook import branch_from_main

    w = make_window()
    assert branch_from_main(w) is None  # nothing run yet: a status message, no window
    w.controls.method.setCurrentIndex(w.controls.method.findData("ddpm"))
    with qtbot.waitSignal(w.runEnded, timeout=20000):
        w.start_run()
    trunk_frames = w.session.store.frames
    w.player.timeline.set_t(20, emit=True)
    view = branch_from_main(w)
    assert view is not None
    qtbot.waitUntil(lambda: view.branches is not None and not view._job.running, timeout=20000)
    b = view.branches
    assert b.at_t == 20 and len(b.branches) == 4
    assert [r.model_calls for r in b.branches] == [21] * 4  # t = 20..0
    np.testing.assert_array_equal(b.trunk.steps[0].x_t, trunk_frames[0].x_t)  # the main run's own frames
    np.testing.assert_array_equal(b.branches[0].steps[b.at_index].x_t, trunk_frames[b.at_index].x_t)
    w.close()
    assert not view.isVisible()
