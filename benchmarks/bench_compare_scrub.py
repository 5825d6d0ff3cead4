"""Scrubbing a finished comparison: playhead move to painted frame in the compare window.

    python benchmarks/bench_compare_scrub.py [--runs 4] [--size 64] [--steps 1000] [--moves 300]

4 runs of 1000 recorded steps (3 panes each: x_t, x0-hat, eps-hat, 64x64 RGB; random pictures, since painting
does not care what they show) in the real :class:`CompareWindow`. Each move sets the slider to a random position
(the window's own path: slider -> playhead -> panes) and waits until the panes widget has painted; the time from
the move to the end of that paint is recorded. Goal: under 16 ms (60 Hz). Also: the same with the difference
row on (4 panes). Runs offscreen unless QT_QPA_PLATFORM says otherwise (under Xvfb it includes X11 drawing).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from diffusion_studio.app.compare_view import CompareWindow  # noqa: E402
from diffusion_studio.core.plan import SamplingPlan  # noqa: E402
from diffusion_studio.core.schedules import make_schedule  # noqa: E402
from diffusion_studio.session.frames import FINAL_T, StepFrames  # noqa: E402
from diffusion_studio.session.request import PreparedRun, RunRequest  # noqa: E402
from diffusion_studio.session.run import Run  # noqa: E402


def fake_run(label: str, steps: int, size: int, rng: np.random.Generator) -> Run:
    """A finished run of random pictures (what is painted does not change the cost)."""
    sched = make_schedule("linear", steps)
    plan = SamplingPlan(sampler="ddpm", seed=0)
    prepared = PreparedRun(None, sched, (3, size, size), None, None, plan, torch.device("cpu"))
    run = Run(prepared, label)

    def pic() -> np.ndarray:
        return rng.integers(0, 256, (size, size, 3), dtype=np.uint8)

    run.steps = [StepFrames(i, steps, t, t - 1, pic(), pic(), pic()) for i, t in enumerate(run.timesteps)]
    run.final = StepFrames(steps, steps, FINAL_T, FINAL_T, pic(), pic(), pic())
    run.done, run.model_calls = steps, steps
    return run


def measure(window: CompareWindow, app: QApplication, moves: int, rng: np.random.Generator) -> list[float]:
    panes, out = window.panes, []
    last = window.slider.maximum()
    for _ in range(moves):
        target = int(rng.integers(0, last + 1))
        if target == window.slider.value():
            target = (target + 1) % (last + 1)
        before = panes.paints
        start = time.perf_counter()
        window.slider.setValue(target)
        while panes.paints == before:
            app.processEvents()
        out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--moves", type=int, default=300)
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    rng = np.random.default_rng(0)
    window = CompareWindow(RunRequest())
    window._runs = [fake_run(f"run {k + 1}", args.steps, args.size, rng) for k in range(args.runs)]
    window._show_group()
    window.resize(1280, 720)
    window.show()
    app.processEvents()
    print(f"{platform.node()} {platform.machine()}, Qt platform {app.platformName()}, {args.runs} runs x "
          f"{args.steps} steps, {args.size}x{args.size} RGB, window 1280x720, {args.moves} moves")
    for diff in (False, True):
        window.diff.setChecked(diff)
        app.processEvents()
        measure(window, app, 20, rng)  # warm-up
        times = measure(window, app, args.moves, rng)
        times.sort()
        panes = len(window.panes.panes)
        print(f"{args.runs} runs x {panes} panes: move -> painted median {statistics.median(times):.2f} ms, "
              f"p95 {times[int(0.95 * len(times)) - 1]:.2f} ms, max {times[-1]:.2f} ms (goal < 16 ms)")
    window.close()


if __name__ == "__main__":
    main()
