"""What the v-hat and flow-velocity panes cost: derived when painted, so the cost is per paint, not per step.

Run: python benchmarks/bench_third_pane.py
For one recorded frame at 64x64 and 256x256 RGB (one torch thread, as a paint in the GUI thread), the median time
to make the third pane's uint8 picture for eps-hat (a conversion the window always did), v-hat and the flow
velocity, from tensors and from a frame compacted to uint8 pictures. Recording stores one float more per step.
"""

from __future__ import annotations

import platform
import statistics
import time

import torch

from diffusion_studio.session.frames import StepFrames
from diffusion_studio.session.third_pane import pane_picture


def median_ms(fn, repeats: int = 200) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def main() -> None:
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, {platform.processor() or platform.machine()}, 1 thread")
    print(f"{'size':>8} {'pane':>5} {'tensors ms':>11} {'pictures ms':>12}")
    gen = torch.Generator().manual_seed(0)
    for side in (64, 256):
        x0 = torch.rand((1, 3, side, side), generator=gen) * 2 - 1
        eps = torch.randn((1, 3, side, side), generator=gen)
        frame = StepFrames(0, 50, 500, 480, 0.3 * x0 + 0.95 * eps, x0, eps, 0.09)
        small = frame.compact()
        for kind in ("eps", "v", "flow"):
            raw = median_ms(lambda f=frame, k=kind: pane_picture(f, k))
            pics = median_ms(lambda f=small, k=kind: pane_picture(f, k))
            print(f"{side:>4}x{side:<3} {kind:>5} {raw:>11.3f} {pics:>12.3f}")


if __name__ == "__main__":
    main()
