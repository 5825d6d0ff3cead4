"""Training throughput with one process and with N processes under torchrun (DistributedDataParallel, gloo on CPU).

    python benchmarks/bench_ddp.py [--nproc 2] [--steps 60] [--batch 32] [--arch small] [--size 32] [--threads 1]

Trains the same run (same global batch, seed and synthetic data) once with one process and once with ``--nproc``
processes, each process with ``--threads`` intra-op threads (so 1 x threads vs nproc x threads cores), and prints
images per second measured by the loop itself (the last progress line, which excludes start-up) and the wall time
of the whole command (which includes starting torchrun and the processes).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def synthetic_data(folder: Path, size: int, n: int = 256) -> Path:
    rng = np.random.default_rng(0)
    path = folder / "data.npz"
    np.savez(path, x=rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8))
    return path


def run(nproc: int, data: Path, out: Path, args: argparse.Namespace) -> tuple[float, float]:
    train = [
        "-m",
        "diffusion_studio.training.command",
        "--data",
        str(data),
        "--out",
        str(out),
        "--steps",
        str(args.steps),
        "--batch",
        str(args.batch),
        "--arch",
        args.arch,
        "--warmup",
        "1",
        "--log-every",
        str(max(1, args.steps // 3)),
        "--device",
        "cpu",
        "--checkpoint-every",
        str(10**9),
    ]
    launcher = [] if nproc == 1 else ["-m", "torch.distributed.run", "--nproc_per_node", str(nproc), "--standalone"]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, *launcher, *train], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(done.stderr[-2000:])
    rates = [float(m) for m in re.findall(r"(\d+) img/s", done.stderr)]
    return rates[-1], wall


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nproc", type=int, default=2)
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--arch", default="small")
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data = synthetic_data(folder, args.size)
        one = run(1, data, folder / "one", args)
        many = run(args.nproc, data, folder / "many", args)
    print(
        f"arch {args.arch}, {args.size}x{args.size} RGB, global batch {args.batch}, {args.steps} steps, "
        f"{args.threads} thread(s) per process, {os.cpu_count()} CPUs"
    )
    print(f"  1 process          {one[0]:7.0f} img/s   wall {one[1]:6.1f} s")
    print(
        f"  {args.nproc} processes (DDP) {many[0]:7.0f} img/s   wall {many[1]:6.1f} s   "
        f"speed-up {many[0] / one[0]:.2f}x"
    )


if __name__ == "__main__":
    main()
