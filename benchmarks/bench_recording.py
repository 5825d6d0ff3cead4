"""What recording every step costs the sampler's thread, by way of recording (CPU time of that thread).

    python benchmarks/bench_recording.py [--T 1000] [--size 128] [--repeats 5]

The closed-form "ideal" model, DDPM over every t (under a millisecond a step, so recording costs show), each way
run in turn ``--repeats`` times (interleaved) and timed with ``time.thread_time``, which a loaded machine disturbs
far less than wall-clock time:

- bare: the sampler loop alone;
- uint8: every step's x_t, x0 and eps converted to uint8 pictures and kept (the window before this change);
- own tensors: the step's tensors kept as they are;
- fresh block: each step copied into a block asked for up front (``StepArena``), a new block every run;
- reused block: the same, into the previous run's block (what a frame store does from the second run on);
- the window's worker loop: ``record(store, stream_frames(...))`` into a ``FrameStore`` (a reused block, plus the
  stream's and the store's own bookkeeping).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from bench_app_streaming import prepared_run  # noqa: E402

from diffusion_studio.app.streaming import configure_torch_threads  # noqa: E402
from diffusion_studio.core.plan import run_plan  # noqa: E402
from diffusion_studio.io.frames import EPS_RANGE  # noqa: E402
from diffusion_studio.runs import PreparedRun  # noqa: E402
from diffusion_studio.session.arena import StepArena  # noqa: E402
from diffusion_studio.session.frame_store import FrameStore, record  # noqa: E402
from diffusion_studio.session.frames import (  # noqa: E402
    StepFrames,
    count_frames,
    frame_bytes,
    raw_frame_bytes,
    stream_frames,
    to_uint8_image,
)


def _steps(p: PreparedRun):
    return run_plan(p.model, p.schedule, p.plan, p.shape, p.init, p.device)


def bare(p: PreparedRun) -> list:
    for _ in _steps(p):
        pass
    return []


def uint8(p: PreparedRun) -> list:
    return [(to_uint8_image(s.x_t), to_uint8_image(s.x0_pred), to_uint8_image(s.eps_pred, -EPS_RANGE, EPS_RANGE))
            for s in _steps(p)]


def own_tensors(p: PreparedRun) -> list:
    return [(s.x_t, s.x0_pred, s.eps_pred) for s in _steps(p)]


def arena_run(p: PreparedRun, arena: StepArena) -> list:
    return [arena.put(StepFrames(s.index, s.total, s.t, s.t_prev, s.x_t, s.x0_pred, s.eps_pred)) for s in _steps(p)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--T", type=int, default=1000)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    threads = configure_torch_threads()
    p = prepared_run(args.size, args.T)
    steps = len(p.plan.timesteps(p.schedule))
    c, h, w = p.shape
    print(f"ideal, DDPM {steps} steps, {w}x{h} RGB, torch {torch.__version__} ({threads} thread(s)), "
          f"CPU time of the sampling thread, median of {args.repeats}")
    last: list[StepArena] = [StepArena(steps)]
    last16: list[StepArena] = [StepArena(steps, dtype=torch.float16)]

    def reused(p: PreparedRun) -> list:
        last[0] = StepArena(steps, reuse=last[0])
        return arena_run(p, last[0])

    def reused16(p: PreparedRun) -> list:
        last16[0] = StepArena(steps, reuse=last16[0], dtype=torch.float16)
        return arena_run(p, last16[0])

    store = FrameStore()

    def worker_loop(p: PreparedRun) -> list:
        store.reset(count_frames(p), frame_bytes(p.shape), raw_frame_bytes(p.shape, p.plan.batch))
        for _ in record(store, stream_frames(p)):
            pass
        return []

    ways = {"bare": bare, "uint8 pictures": uint8, "own tensors": own_tensors,
            "fresh block": lambda p: arena_run(p, StepArena(steps)), "reused block": reused,
            "reused float16 block": reused16, "the window's worker loop": worker_loop}
    times: dict[str, list[float]] = {k: [] for k in ways}
    for f in ways.values():
        f(p)  # warm-up (and the first block for "reused")
    for _ in range(args.repeats):
        for name, f in ways.items():
            start = time.thread_time()
            kept = f(p)
            times[name].append(time.thread_time() - start)
            del kept
    base = statistics.median(times["bare"])
    print("| recording each step by | CPU time | vs. bare |\n|---|---|---|")
    for name, ts in times.items():
        m = statistics.median(ts)
        print(f"| {name} | {m:.3f} s | {'' if name == 'bare' else f'{100 * (m / base - 1):+.0f} %'} |")


if __name__ == "__main__":
    main()
