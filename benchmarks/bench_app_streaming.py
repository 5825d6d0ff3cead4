"""What the window costs: streaming a sampling run into it, and the delay from a playhead move to a painted frame.

    python benchmarks/bench_app_streaming.py [--T 200] [--repeats 3] [--moves 60]

1. The same DDPM run three ways, median of ``--repeats`` (interleaved): the bare sampler loop
   (``for step in run_plan(...)``), the app's stream in one thread (that loop plus the uint8 copies of x_t, x0 and
   eps), and the real main window, which receives every step from its worker thread, stores it, and repaints the
   canvas, timeline, plot cursor and maths (at most every 16 ms; plot and maths at most every 100 ms).
   Two models: a U-Net of the built-in models' "small" architecture (random weights, 32x32 RGB: the cost of a
   real model step) and the closed-form "ideal" model at 128 px (about a millisecond a step: a stress test in
   which the uint8 copies alone cost about half a step). Goal: the window under 5 % slower than the bare loop.
2. Forward view of a 512x512 picture: move the playhead to a random t and wait until the x_t pane has painted the
   new frame (closed form computed on the spot). Goal: under 16 ms.

Runs offscreen unless QT_QPA_PLATFORM says otherwise (under Xvfb it includes real X11 drawing).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import statistics
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PySide6.QtCore import QEventLoop  # noqa: E402

from diffusion_studio.app.main import make_application  # noqa: E402
from diffusion_studio.app.main_window import MainWindow  # noqa: E402
from diffusion_studio.app.settings import Settings  # noqa: E402
from diffusion_studio.app.streaming import configure_torch_threads, stream_frames  # noqa: E402
from diffusion_studio.core.plan import SamplingPlan, run_plan  # noqa: E402
from diffusion_studio.io.images import load_image  # noqa: E402
from diffusion_studio.models.base import ModelInfo  # noqa: E402
from diffusion_studio.models.trained import TrainedModel  # noqa: E402
from diffusion_studio.models.unet import UNet, UNetConfig  # noqa: E402
from diffusion_studio.paths import sample_images  # noqa: E402
from diffusion_studio.runs import PreparedRun, RunRequest, prepare_run  # noqa: E402


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


def stream_loop(p: PreparedRun) -> float:
    start = time.perf_counter()
    for _ in stream_frames(p):
        pass
    return time.perf_counter() - start


def window_run(app, window: MainWindow) -> tuple[float, int]:
    """One run in the real window, with the GUI thread in its event loop (as in the app) until it ends."""
    done: list[str] = []
    loop = QEventLoop()
    window.runEnded.connect(lambda status, message: (done.append(status), loop.quit()))
    start = time.perf_counter()
    window.start_run()
    if not done:
        loop.exec()
    elapsed = time.perf_counter() - start
    window.runEnded.disconnect()
    assert done == ["finished"], done
    return elapsed, window.canvas.paints


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


def compare(app, window: MainWindow, prepared: PreparedRun, repeats: int, label: str) -> None:
    """Print bare loop, stream and window timings of one prepared run (the window prepares nothing itself)."""
    window.session.prepare = lambda request: prepared
    c, h, w = prepared.shape
    steps = len(prepared.plan.timesteps(prepared.schedule))
    print(f"{label}: {prepared.model.info.name}, DDPM, {steps} steps, {w}x{h} RGB, median of {repeats}")
    bare, stream, shown, paints = [], [], [], []
    for _ in range(repeats):  # interleaved, so a busy moment on the machine hurts all three alike
        bare.append(bare_loop(prepared))
        stream.append(stream_loop(prepared))
        before = window.canvas.paints
        seconds, after = window_run(app, window)
        shown.append(seconds)
        paints.append((after - before) / 3)
    b, s, v = (statistics.median(x) for x in (bare, stream, shown))
    print(f"  bare sampler loop        {b:7.3f} s  {steps / b:7.0f} steps/s")
    print(f"  stream (+ uint8 copies)  {s:7.3f} s  {steps / s:7.0f} steps/s  {100 * (s / b - 1):+6.1f} %")
    print(f"  window, every step       {v:7.3f} s  {steps / v:7.0f} steps/s  {100 * (v / b - 1):+6.1f} %  "
          f"(goal < +5 %; {len(window.session.store)} frames stored, canvas painted "
          f"{statistics.median(paints):.0f} times per run)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--T", type=int, default=200, help="diffusion steps of the U-Net run (default 200)")
    parser.add_argument("--stress-T", type=int, default=1000, help="diffusion steps of the ideal-model run")
    parser.add_argument("--size", type=int, default=128, help="picture side for the ideal-model run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--scrub-size", type=int, default=512)
    parser.add_argument("--moves", type=int, default=60, help="playhead moves to time")
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
    compare(app, window, prepared_run(32, args.T, unet=True), args.repeats, "model-like run")
    compare(app, window, prepared_run(args.size, args.stress_T), args.repeats, "stress run")

    window.controls.size.setValue(args.scrub_size)
    window.open_image(_sample("astronaut"))
    window.set_view("forward")
    fh, fw = window.forward.image.shape[:2]
    ms = np.array(scrub_latency(app, window, args.moves)) * 1000
    print(f"scrub: forward view {fw}x{fh}, {args.moves} playhead moves to random t, move -> x_t pane painted "
          "(the plot cursor and maths follow in the next event-loop pass)")
    print(f"  median {np.median(ms):.1f} ms, 95th percentile {np.percentile(ms, 95):.1f} ms, "
          f"max {ms.max():.1f} ms   (goal < 16 ms)")
    window.close()


if __name__ == "__main__":
    main()
