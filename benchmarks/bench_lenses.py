"""Does a lens slow scrubbing? Playhead move to painted frame with the Lenses window open, 64x64, offscreen Qt.

Run: QT_QPA_PLATFORM=offscreen python -u benchmarks/bench_lenses.py [--moves 60]

A DDIM-50 run of the closed-form ideal model at 64x64 in the reverse view; then playhead moves to random recorded
steps (never the step already shown), without and with the Lenses window (spectrum, trajectory, error and guidance
panels) open. After each move the event loop runs until the x_t pane has painted, the lens window has taken the new
step and three more passes paint nothing; an application event filter times the end of every paint event, and the
move's figure is the end of the last paint of the x_t pane or of any lens plot (the frame and the lenses on
screen), in wall-clock and in GUI-thread CPU time (the latter barely depends on what else the machine runs). A
move that changed the spectrum or trajectory plots without repainting them is an error, not a fast figure. The
spectrum of a step not shown before is computed inside that time (the output says how many moves did). "All
windows settled" adds everything else the move repaints in the main window (its maths panel and plots).

Then the trajectory PCA after a 1000-step run of 32x32 RGB (random walks stand in for x_t and x0-hat): one path's
core PCA, the lens job's fit of both paths (done in the background after the run), and the Lenses window drawing
the fits until painted. torch gets the threads the app gives it (diffusion_studio.threads, one core kept for the
window).
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from diffusion_studio.threads import configure_threads, prepare_environment  # noqa: E402

prepare_environment()  # before torch is imported, as the app does

import platform  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PySide6.QtCore import QEvent, QObject  # noqa: E402
from PySide6.QtWidgets import QWidget  # noqa: E402

from diffusion_studio.app.lens_window import LensFrame, LensWindow, fit_paths  # noqa: E402
from diffusion_studio.app.main import make_application  # noqa: E402
from diffusion_studio.app.main_window import MainWindow  # noqa: E402
from diffusion_studio.app.settings import Settings  # noqa: E402
from diffusion_studio.core.lens_trajectory import trajectory_pca  # noqa: E402

QUIET_PASSES = 3  # event-loop passes without a paint that end a move


class PaintWatch(QObject):
    """An application-wide event filter that counts paint events and times when they end.

    Qt delivers paint events one after another, so a paint has ended when the next event of any kind arrives
    (or, at the latest, when the event-loop pass ends: call :meth:`end_pass`). ``ends[group]`` is the (wall clock,
    GUI-thread CPU clock) at the end of the latest paint of a widget in ``group``; "any" holds every widget.
    """

    def __init__(self) -> None:
        super().__init__()
        self.paints = 0
        self.painted: set[int] = set()
        self.groups: dict[str, Callable[[QObject], bool]] = {}
        self.ends: dict[str, tuple[float, float]] = {}
        self._open: list[str] = []

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt override
        if self._open:
            self.end_pass()
        if event.type() == QEvent.Type.Paint:
            self.paints += 1
            self.painted.add(id(obj))
            self._open = ["any"] + [name for name, member in self.groups.items() if member(obj)]
        return False

    def end_pass(self) -> None:
        now = (time.perf_counter(), time.thread_time())
        for name in self._open:
            self.ends[name] = now
        self._open = []


def wait(app, condition, timeout: float = 120.0) -> None:
    end = time.perf_counter() + timeout
    while not condition():
        app.processEvents()
        if time.perf_counter() > end:
            raise TimeoutError("the run did not finish in time")


def settle(app, watch: PaintWatch, timeout: float = 5.0) -> None:
    """Run the event loop until QUIET_PASSES passes in a row paint nothing."""
    quiet, end = 0, time.perf_counter() + timeout
    while quiet < QUIET_PASSES and time.perf_counter() < end:
        before = watch.paints
        app.processEvents()
        watch.end_pass()
        quiet = quiet + 1 if watch.paints == before else 0


def lens_state(lenses: LensWindow | None) -> dict[int, object]:
    """What the spectrum and trajectory plots show, by their viewports: a plot whose state a move changed must
    repaint (the x0-hat path can stand still over the last steps, and then its marker does not move)."""
    if lenses is None:
        return {}
    trajectory = lenses.trajectory
    return {id(lenses.spectrum.plot.viewport()): lenses.spectrum.title(),
            id(trajectory.plots["x_t"].viewport()): trajectory.marker_position("x_t"),
            id(trajectory.plots["x0"].viewport()): trajectory.marker_position("x0")}


def scrub(app, window: MainWindow, watch: PaintWatch, moves: int, lenses: LensWindow | None = None,
          seed: int = 0) -> dict[str, np.ndarray | int]:
    """Per move, ms from the playhead change until: the x_t pane has painted ("pane"); the pane and every lens
    plot have painted ("lenses"); everything in every window has painted ("all"); the same in GUI-thread CPU time
    ("... cpu": what the move cost, whatever else the machine was doing). And how many spectra the moves
    computed ("computed")."""
    rng = np.random.default_rng(seed)
    item = window.canvas.items[0]
    canvas = window.canvas.view.viewport()
    recorded = window.session.store.timesteps
    watch.groups = {"pane": lambda obj: obj is canvas}
    if lenses is not None:
        watch.groups["lens"] = lambda obj: isinstance(obj, QWidget) and obj.window() is lenses
    cached_before = len(lenses._cache) if lenses is not None else 0
    out: dict[str, list[float]] = {key: [] for key in ("pane", "lenses", "all", "pane cpu", "lenses cpu", "all cpu")}
    shown = window.player.timeline.t
    for _ in range(moves):
        t = shown
        while t == shown:
            t = int(recorded[rng.integers(0, len(recorded))])
        shown = t
        settle(app, watch)
        updated: list[int] = []
        if lenses is not None:
            lenses.updated.connect(lambda u=updated: u.append(1))
        watch.painted.clear()
        watch.ends = {}
        before = item.paints
        before_state = lens_state(lenses)
        start = (time.perf_counter(), time.thread_time())
        window.player.timeline.set_t(t, emit=True)
        quiet = 0
        while quiet < QUIET_PASSES or item.paints == before or lenses is not None and not updated:
            paints = watch.paints
            app.processEvents()
            watch.end_pass()
            quiet = quiet + 1 if watch.paints == paints else 0
            if time.perf_counter() - start[0] > 5:
                raise TimeoutError("a playhead move did not paint within 5 s")
        changed = [key for key, shown in lens_state(lenses).items() if before_state[key] != shown]
        if lenses is not None and (not changed or any(key not in watch.painted for key in changed)):
            raise RuntimeError(f"the move to t = {t} did not show a new step in every lens plot it changed")
        ends = watch.ends
        shown_at = max(ends["pane"], ends.get("lens", ends["pane"]))
        for key, end in (("pane", ends["pane"]), ("lenses", shown_at), ("all", ends["any"])):
            out[key].append(end[0] - start[0])
            out[key + " cpu"].append(end[1] - start[1])
        if lenses is not None:
            lenses.updated.disconnect()
    watch.groups = {}
    result: dict[str, np.ndarray | int] = {key: np.array(v) * 1000 for key, v in out.items()}
    result["computed"] = len(lenses._cache) - cached_before if lenses is not None else 0
    return result


def pca_after_run(app, watch: PaintWatch, steps: int = 1000, side: int = 32) -> tuple[float, float, float]:
    """After the last step of a 1000-step run of 32x32 RGB (a random walk stands in for x_t and x0-hat): seconds
    for one path's core PCA and for the lens job's fit of both paths (best of 3 each), and for the Lenses window
    to draw the fits it is handed (from the hand-over until painted)."""
    g = torch.Generator().manual_seed(0)
    x_t = list(torch.randn(steps + 1, 3, side, side, generator=g).cumsum(0) / 30)
    x0 = list(torch.randn(steps, 3, side, side, generator=g).cumsum(0) / 30)

    def best_of_3(fn) -> float:
        fn()
        times = []
        for _ in range(3):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return min(times)

    core = best_of_3(lambda: trajectory_pca([torch.stack(x_t)]))
    job = best_of_3(lambda: fit_paths(x_t, x0))
    fits = fit_paths(x_t, x0)
    lenses = LensWindow()
    lenses.show()
    settle(app, watch)
    eps = torch.zeros(3, side, side, dtype=torch.float16)
    lenses.frames = [LensFrame(steps - 1 - i, (i + 1) / (steps + 1), x_t[i].half(), x0[i].half(), eps,
                               x_t[i + 1].half()) for i in range(steps)]  # as the job streamed them
    lenses._neg_ts = [-f.t for f in lenses.frames]
    settle(app, watch)
    watch.groups = {"fit": lambda obj: isinstance(obj, QWidget) and obj.window() is lenses}
    watch.ends = {}
    start = time.perf_counter()
    lenses._on_frame(fits)
    settle(app, watch)
    watch.groups = {}
    draw = watch.ends["fit"][0] - start
    if not lenses.trajectory.coords:
        raise RuntimeError("the Lenses window did not take the trajectory fits")
    lenses.close()
    return core, job, draw


def row(label: str, ms: np.ndarray, cpu: np.ndarray) -> str:
    return (f"  {label:38s} median {np.median(ms):5.1f} ms, 95th percentile {np.percentile(ms, 95):5.1f} ms, "
            f"max {ms.max():5.1f} ms;  GUI-thread CPU median {np.median(cpu):5.1f} ms, 95th percentile "
            f"{np.percentile(cpu, 95):5.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=60)
    moves = parser.parse_args().moves
    app = make_application()
    threads = configure_threads(reserve=1)  # as the app does (diffusion_studio.app.main.run_app)
    watch = PaintWatch()
    app.installEventFilter(watch)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__} "
          f"({threads} thread{'s' if threads > 1 else ''}), Qt platform {os.environ['QT_QPA_PLATFORM']}")
    window = MainWindow(Settings(tempfile.mktemp(suffix=".ini")))
    window.resize(1500, 920)
    window.show()
    c = window.controls
    c.model.setCurrentIndex(c.model.findData("ideal"))
    c.size.setValue(64)
    c.method.setCurrentIndex(c.method.findData("ddim"))
    c.steps.setValue(50)
    done = []
    window.runEnded.connect(lambda *a: done.append(a))
    window.start_run()
    wait(app, lambda: bool(done))
    closed = scrub(app, window, watch, moves)
    start = time.perf_counter()
    window.open_lenses()
    wait(app, lambda: "whole run" in window.lenses.status.text())
    print(f"Lenses window ready {time.perf_counter() - start:.2f} s after opening (rerun, PCA, error reference)")
    opened = scrub(app, window, watch, moves, window.lenses)
    print(f"{moves} playhead moves, 64x64 RGB, DDIM-50; move -> painted (goal < 16 ms):")
    for label, res, key in (("lenses closed: x_t pane", closed, "pane"), ("lenses open: x_t pane", opened, "pane"),
                            ("lenses open: x_t pane and lens plots (*)", opened, "lenses"),
                            ("lenses closed: all windows settled", closed, "all"),
                            ("lenses open: all windows settled", opened, "all")):
        print(row(label, res[key], res[key + " cpu"]))
    print("  (*) the issue's figure: playhead move to painted frame with the spectrum and trajectory lenses open")
    print(f"  (lenses open: the spectrum was computed on {opened['computed']} of the {moves} moves, the rest came "
          "from the cache; 'all windows' adds the main window's maths panel and plots)")
    window.close()
    core, job, draw = pca_after_run(app, watch)
    print(f"trajectory PCA after a 1000-step 32x32 RGB run: one path {core:.3f} s; the lens job fits both paths "
          f"(x_t, x0-hat) in {job:.3f} s, the window draws them in {draw:.3f} s: {job + draw:.3f} s in all "
          "(goal < 0.5 s)")


if __name__ == "__main__":
    main()
