"""Does a lens slow scrubbing? Playhead move to painted frame with the Lenses window open, 64x64, offscreen Qt.

Run: QT_QPA_PLATFORM=offscreen python -u benchmarks/bench_lenses.py
A DDIM-50 run of the closed-form ideal model at 64x64 in the reverse view; then 60 moves of the playhead to random
recorded steps, timed from the move until the x_t pane has painted, without and with the Lenses window open, and
until the lens panels have followed (the spectrum of a step not shown before is computed in that time).
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import platform
import tempfile
import time

import numpy as np
import torch

from diffusion_studio.app.main import make_application
from diffusion_studio.app.main_window import MainWindow
from diffusion_studio.app.settings import Settings


def wait(app, condition, timeout: float = 120.0) -> None:
    end = time.perf_counter() + timeout
    while not condition():
        app.processEvents()
        if time.perf_counter() > end:
            raise TimeoutError("the run did not finish in time")


def scrub(app, window: MainWindow, moves: int, lenses=None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Milliseconds from a playhead move to the x_t pane painted, and (lenses open) to the lens panels painted.

    The lens panels update in the event-loop pass after the picture (as the window's plot and maths do); the
    second figure runs until that update has been made and painted.
    """
    rng = np.random.default_rng(seed)
    item = window.canvas.items[0]
    recorded = window.session.store.timesteps
    pane, lens = [], []
    for k in rng.integers(0, len(recorded), moves):
        for _ in range(3):
            app.processEvents()
        before = item.paints
        updated = []
        if lenses is not None:
            lenses.updated.connect(lambda u=updated: u.append(1))
        start = time.perf_counter()
        window.player.timeline.set_t(int(recorded[k]), emit=True)
        while item.paints == before:
            app.processEvents()
        pane.append(time.perf_counter() - start)
        if lenses is not None:
            while not updated:
                app.processEvents()
            app.processEvents()  # the paint of the updated panels
            lens.append(time.perf_counter() - start)
            lenses.updated.disconnect()
    return np.array(pane) * 1000, np.array(lens) * 1000


def main(moves: int = 60) -> None:
    app = make_application()
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
          f"Qt platform {os.environ['QT_QPA_PLATFORM']}")
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
    plain, _ = scrub(app, window, moves)
    start = time.perf_counter()
    window.open_lenses()
    wait(app, lambda: "whole run" in window.lenses.status.text())
    print(f"Lenses window ready {time.perf_counter() - start:.2f} s after opening (rerun, PCA, error reference)")
    pane, lens = scrub(app, window, moves, window.lenses)
    rows = (("lenses closed: x_t pane", plain), ("lenses open: x_t pane", pane), ("lenses open: lens panels", lens))
    for label, ms in rows:
        print(f"  {label:25s} move -> painted: median {np.median(ms):.1f} ms, 95th percentile "
              f"{np.percentile(ms, 95):.1f} ms, max {ms.max():.1f} ms   (goal < 16 ms)")
    window.close()


if __name__ == "__main__":
    main()
