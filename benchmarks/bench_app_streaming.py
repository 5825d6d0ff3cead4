"""What the window costs: streaming a sampling run into it, and the delay from a playhead move to a painted frame.

    python benchmarks/bench_app_streaming.py [--T 200] [--repeats 3] [--moves 60] [--no-busy]

1. The same DDPM run three ways, median of ``--repeats`` (interleaved, after one warm-up of each): the bare sampler
   loop (``for step in run_plan(...)``), the worker's recording loop in one thread (that loop plus every step copied
   into a frame store, as the window's worker does), and the real main window, which records every step on its
   worker thread and repaints the newest one (canvas, timeline; plot cursor and maths at most every 100 ms) at most
   once per screen refresh, pacing itself to a small share of one core. Each comparison runs idle and again beside
   one busy process (a Python loop spinning on a core), since a desktop rarely has its cores to itself.
   Two models: a U-Net of the built-in models' "small" architecture (random weights, 32x32 RGB: the cost of a
   real model step) and the closed-form "ideal" model at 128 px (under a millisecond a step: a stress test).
   Goals (issue 10): the window at most +3 % (idle) and +15 % (beside a busy process) over the bare loop for the
   U-Net run, at most +40 % for the closed-form run.
2. Forward view of a 512x512 picture: move the playhead to a random t and wait until the x_t pane has painted the
   new frame (closed form computed on the spot). Goal: under 16 ms.

Runs offscreen unless QT_QPA_PLATFORM says otherwise (under Xvfb it includes real X11 drawing). The machine should
be otherwise idle: the busy process is the benchmark's own.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PySide6.QtCore import QEventLoop  # noqa: E402

from diffusion_studio.app.main import make_application  # noqa: E402
from diffusion_studio.app.main_window import MainWindow  # noqa: E402
from diffusion_studio.app.settings import Settings  # noqa: E402
from diffusion_studio.app.streaming import configure_torch_threads  # noqa: E402
from diffusion_studio.core.plan import SamplingPlan, run_plan  # noqa: E402
from diffusion_studio.io.images import load_image  # noqa: E402
from diffusion_studio.models.base import ModelInfo  # noqa: E402
from diffusion_studio.models.trained import TrainedModel  # noqa: E402
from diffusion_studio.models.unet import UNet, UNetConfig  # noqa: E402
from diffusion_studio.paths import sample_images  # noqa: E402
from diffusion_studio.runs import PreparedRun, RunRequest, prepare_run  # noqa: E402
from diffusion_studio.session.frame_store import FrameStore, record  # noqa: E402
from diffusion_studio.session.frames import count_frames, frame_bytes, raw_frame_bytes, stream_frames  # noqa: E402


def _sample(name: str):
    return next(p for p in sample_images() if p.stem == name)


def prepared_run(size: int, T: int, unet: bool = False) -> PreparedRun:  # noqa: N803
    """A DDPM run over every t from pure noise: the ideal model on a sample photo, or a small U-Net at 32 px."""
    image = load_image(_sample("chelsea"), size=32 if unet else size, mode="crop" if unet else "fit")
    request = RunRequest(model="ideal", schedule="linear", T=T, init_array=image, device="cpu",
                         plan=SamplingPlan(sampler="ddpm", seed=0))
    prepared = prepare_run(request)
    if unet:
        torch.manual_seed(0)
        config = UNetConfig(in_channels=3, base_channels=32, channel_mults=(1, 2, 3), num_res_blocks=1,
                            attention_at_lowest=True)  # the training command's "small" architecture
        info = ModelInfo(name="unet-small (random weights)", image_size=32, channels=3)
        prepared = dataclasses.replace(prepared, model=TrainedModel(UNet(config), info))
    return prepared


def bare_loop(p: PreparedRun) -> float:
    start = time.perf_counter()
    for _ in run_plan(p.model, p.schedule, p.plan, p.shape, p.init, p.device):
        pass
    return time.perf_counter() - start


def stream_loop(p: PreparedRun, store: FrameStore | None = None) -> float:
    """The window's worker loop in this thread: every step recorded into a frame store."""
    store = store if store is not None else FrameStore()
    store.reset(count_frames(p), frame_bytes(p.shape), raw_frame_bytes(p.shape, p.plan.batch))
    start = time.perf_counter()
    for _ in record(store, stream_frames(p)):
        pass
    return time.perf_counter() - start


@contextmanager
def busy_process(on: bool):
    """One process spinning on a core for the duration (nothing when ``on`` is false)."""
    if not on:
        yield
        return
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.2)
        yield
    finally:
        proc.kill()
        proc.wait()


def window_run(app, window: MainWindow) -> tuple[float, int]:
    """One run in the real window, with the GUI thread in its event loop (as in the app) until it ends."""
    done: list[str] = []
    loop = QEventLoop()
    window.runEnded.connect(lambda status, message: (done.append(status), loop.quit()))
    start, cpu = time.perf_counter(), time.thread_time()
    window.start_run()
    if not done:
        loop.exec()
    elapsed, cpu = time.perf_counter() - start, time.thread_time() - cpu
    window.runEnded.disconnect()
    assert done == ["finished"], done
    return elapsed, cpu


def scrub_latency(app, window: MainWindow, moves: int, seed: int = 0) -> list[float]:
    """Seconds from a playhead move to the end of the x_t pane's paint, for ``moves`` random t."""
    rng = np.random.default_rng(seed)
    item = window.canvas.items[0]
    times = []
    for t in rng.integers(0, window.player.timeline.t_max + 1, moves):
        for _ in range(3):
            app.processEvents()
        before = item.paints
        start = time.perf_counter()
        window.player.timeline.set_t(int(t), emit=True)
        while item.paints == before:
            app.processEvents()
        times.append(time.perf_counter() - start)
    return times


def compare(app, window: MainWindow, prepared: PreparedRun, repeats: int, busy: bool) -> list[str]:
    """Table rows: bare loop, recording loop and window timings of one prepared run, idle (and beside a busy one)."""
    window.session.prepare = lambda request: prepared
    store = FrameStore()
    bare_loop(prepared), stream_loop(prepared, store), window_run(app, window)  # warm-up
    rows = []
    for beside in (False, True) if busy else (False,):
        bare, stream, shown, gui, paints = [], [], [], [], []
        with busy_process(beside):
            for _ in range(repeats):  # interleaved, so a busy moment on the machine hurts all three alike
                bare.append(bare_loop(prepared))
                stream.append(stream_loop(prepared, store))
                before = window.canvas.paints
                seconds, cpu = window_run(app, window)
                shown.append(seconds)
                gui.append(cpu)
                paints.append((window.canvas.paints - before) / 3)
        b, s, v = (statistics.median(x) for x in (bare, stream, shown))
        rows.append(f"| {'beside 1 busy process' if beside else 'idle'} | {b:.3f} s | {100 * (s / b - 1):+.1f} % | "
                    f"{100 * (v / b - 1):+.1f} % | {statistics.median(gui):.2f} s, "
                    f"{statistics.median(paints):.0f} paints |")
    return rows


def report(app, window: MainWindow, prepared: PreparedRun, repeats: int, busy: bool, label: str, goal: str) -> None:
    c, h, w = prepared.shape
    steps = len(prepared.plan.timesteps(prepared.schedule))
    print(f"\n{label}: {prepared.model.info.name}, DDPM, {steps} steps, {w}x{h} RGB, median of {repeats}; "
          f"goal: {goal}")
    print("| machine | bare loop | recording loop | window | window's GUI thread CPU, canvas paints per run |")
    print("|---|---|---|---|---|")
    for row in compare(app, window, prepared, repeats, busy):
        print(row, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--T", type=int, default=200, help="diffusion steps of the U-Net run (default 200)")
    parser.add_argument("--stress-T", type=int, default=1000, help="diffusion steps of the ideal-model run")
    parser.add_argument("--size", type=int, default=128, help="picture side for the ideal-model run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--scrub-size", type=int, default=512)
    parser.add_argument("--moves", type=int, default=60, help="playhead moves to time")
    parser.add_argument("--no-busy", action="store_true", help="skip the runs beside a busy process")
    args = parser.parse_args()

    app = make_application()
    threads = configure_torch_threads()
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__} "
          f"({threads} thread{'s' * (threads > 1)}), Qt platform {os.environ['QT_QPA_PLATFORM']}")
    window = MainWindow(Settings(tempfile.mktemp(suffix=".ini")))
    window.resize(1500, 920)
    window.show()
    for _ in range(20):
        app.processEvents()
        time.sleep(0.005)
    busy = not args.no_busy
    report(app, window, prepared_run(32, args.T, unet=True), args.repeats, busy, "model-like run",
           "window <= +3 % idle, <= +15 % beside a busy process")
    report(app, window, prepared_run(args.size, args.stress_T), args.repeats, busy, "stress run",
           "window <= +40 %")

    window.controls.size.setValue(args.scrub_size)
    window.open_image(_sample("astronaut"))
    window.set_view("forward")
    fh, fw = window.forward.image.shape[:2]
    ms = np.array(scrub_latency(app, window, args.moves)) * 1000
    print(f"\nscrub: forward view {fw}x{fh}, {args.moves} playhead moves to random t, move -> x_t pane painted "
          "(the plot cursor and maths follow in the next event-loop pass)")
    print(f"  median {np.median(ms):.1f} ms, 95th percentile {np.percentile(ms, 95):.1f} ms, "
          f"max {ms.max():.1f} ms   (goal < 16 ms)")
    window.close()


if __name__ == "__main__":
    main()
