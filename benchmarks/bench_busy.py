"""CLI `sample` and a short `train` idle and beside busy processes, with torch's default threads and with ours.

    python benchmarks/bench_busy.py [--repeats 3] [--busy 2] [--quick]

"Busy" starts ``--busy`` processes that spin (``while True: pass``) one second before each timed run and stops
them after it. "torch default" runs the same command without the studio's thread policy (torch's own thread
count and OpenMP wait policy); "ours" is the plain ``diffusion-studio`` command (diffusion_studio/threads.py).
Sample: ``sample --model digits --class 7 --guidance 3 --sampler ddim --steps 100``, timed by its own progress
line (sampling only) and as a whole process. Train: 20 steps of the small U-Net at batch 32 on 28x28 grey
images (a random .npz), as a whole process (import and set-up included). Prints one table: idle, busy and
busy/idle (goal <= 1.6x; a fair share of the cores with two busy processes on two cores is 1.5x); median of
``--repeats``. ``--quick`` (20 sampling steps, 3 training steps at batch 8) only checks that the script runs.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SAMPLE = ["sample", "--model", "digits", "--class", "7", "--guidance", "3", "--sampler", "ddim", "--steps", "100"]
TRAIN_STEPS = 20
# the same command without diffusion_studio.cli.main (which applies the thread policy): torch's defaults
DEFAULT_RUNNER = (
    "import importlib, sys; from diffusion_studio.cli import COMMANDS, build_parser; "
    "a = build_parser().parse_args(sys.argv[1:]); sys.exit(importlib.import_module(COMMANDS[a.command][0]).run(a))"
)
POLICY_VARS = ("OMP_WAIT_POLICY", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "DIFFUSION_STUDIO_THREADS")


def _command(policy: str, argv: list[str]) -> list[str]:
    if policy == "torch default":
        return [sys.executable, "-c", DEFAULT_RUNNER, *argv]
    return [sys.executable, "-m", "diffusion_studio", *argv]


def _timed(policy: str, argv: list[str], timeout: float) -> tuple[float, float | None]:
    """(whole process seconds, sampling seconds from the progress line or None); inf past ``timeout``."""
    env = {k: v for k, v in os.environ.items() if k not in POLICY_VARS}
    start = time.perf_counter()
    try:
        out = subprocess.run(_command(policy, argv), capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return float("inf"), float("inf")
    wall = time.perf_counter() - start
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{out.stderr[-2000:]}")
    found = re.findall(r"steps in ([0-9.]+) s", out.stderr)
    return wall, float(found[-1]) if found else None


class Busy:
    """``n`` processes that keep a core each busy while the block runs."""

    def __init__(self, n: int) -> None:
        self.n, self.procs = n, []

    def __enter__(self) -> Busy:
        self.procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(self.n)]
        time.sleep(1.0)
        return self

    def __exit__(self, *exc) -> None:
        for p in self.procs:
            p.kill()
        for p in self.procs:
            p.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--busy", type=int, default=2, help="busy processes beside the run (default 2)")
    parser.add_argument("--quick", action="store_true", help="tiny runs: check that the script works")
    parser.add_argument("--timeout", type=float, default=900, help="seconds before a run counts as > that")
    args = parser.parse_args()
    sample = [*SAMPLE[:-1], "20"] if args.quick else SAMPLE
    train_steps, train_batch = (3, 8) if args.quick else (TRAIN_STEPS, 32)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "toy.npz"
        np.savez(data, x=np.random.default_rng(0).integers(0, 255, (256, 28, 28), dtype=np.uint8))
        runs = {
            "sample (sampling)": [*sample, "--png", str(Path(tmp) / "s.png")],
            "sample (process)": None,  # same run as above, whole-process time
            "train": [
                "train", "--data", str(data), "--out", str(Path(tmp) / "m"), "--steps", str(train_steps),
                "--batch", str(train_batch), "--log-every", str(train_steps), "--checkpoint-every", str(train_steps),
            ],
        }
        results: dict[tuple[str, str, str], list[float]] = {}
        for _ in range(args.repeats):
            for load in ("idle", "busy"):
                for policy in ("torch default", "ours"):
                    for name in ("sample (sampling)", "train"):
                        argv = runs[name]
                        if name.startswith("train"):
                            argv = [*argv, "--name", f"r{time.monotonic_ns()}"]
                            argv[argv.index("--out") + 1] = str(Path(tmp) / f"m{time.monotonic_ns()}")
                        if load == "busy":
                            with Busy(args.busy):
                                wall, sampling = _timed(policy, argv, args.timeout)
                        else:
                            wall, sampling = _timed(policy, argv, args.timeout)
                        print(f"  {name}, {policy}, {load}: {wall:.2f} s", file=sys.stderr, flush=True)
                        if name.startswith("sample"):
                            results.setdefault((name, policy, load), []).append(sampling or wall)
                            results.setdefault(("sample (process)", policy, load), []).append(wall)
                        else:
                            results.setdefault((name, policy, load), []).append(wall)
    print(f"{os.cpu_count()} cores, {args.busy} busy processes, median of {args.repeats}")
    print(f"| run | threads | idle | beside {args.busy} busy | busy / idle | goal |")
    print("|---|---|---|---|---|---|")
    for name in runs:
        for policy in ("torch default", "ours"):
            idle = statistics.median(results[(name, policy, "idle")])
            busy = statistics.median(results[(name, policy, "busy")])
            ratio = f"{busy / idle:.2f}x" if math.isfinite(idle) and math.isfinite(busy) else "-"
            cells = f"{_seconds(idle, args.timeout)} | {_seconds(busy, args.timeout)}"
            print(f"| {name} | {policy} | {cells} | {ratio} | <= 1.6x |")


def _seconds(value: float, timeout: float) -> str:
    return f"{value:.2f} s" if math.isfinite(value) else f"> {timeout:.0f} s"


if __name__ == "__main__":
    main()
