"""Core figures: sampler overhead per step (model excluded) vs diffusers, and q_sample time at 512x512.

Run: python benchmarks/bench_core.py   (prints figures; each beside its reference measured in the same run)
"""

from __future__ import annotations

import platform
import time
from datetime import date

import torch

from diffusion_studio.core import CancelToken, make_schedule, q_sample
from diffusion_studio.core.samplers import ddim_sampler, ddpm_sampler
from diffusion_studio.core.steps import ddim_timesteps

torch.set_num_threads(1)


class FreeModel:
    """A model that costs nothing: returns a precomputed eps, so only the sampler's own work is timed."""

    def __init__(self, shape) -> None:
        self.eps = torch.randn(shape, generator=torch.Generator().manual_seed(0)) * 0.1

    def predict_eps(self, x_t, t, schedule, y=None):
        return self.eps


def per_step_ms(fn, steps: int, repeats: int = 5) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, (time.perf_counter() - start) / steps * 1e3)
    return best


def ours_ddpm(shape, sched) -> float:
    model = FreeModel(shape)

    def run() -> None:
        g = torch.Generator().manual_seed(0)
        for _ in ddpm_sampler(model, sched, torch.randn(shape), generator=g, cancel=CancelToken()):
            pass

    return per_step_ms(run, sched.T)


def ours_ddim(shape, sched) -> float:
    model, ts = FreeModel(shape), ddim_timesteps(sched, 50)

    def run() -> None:
        for _ in ddim_sampler(model, sched, torch.randn(shape), ts, cancel=CancelToken()):
            pass

    return per_step_ms(run, len(ts))


def diffusers_ddpm(shape, T: int) -> float | None:  # noqa: N803
    try:
        from diffusers import DDPMScheduler
    except ImportError:
        return None
    scheduler = DDPMScheduler(num_train_timesteps=T)
    eps = FreeModel(shape).eps

    def run() -> None:
        g = torch.Generator().manual_seed(0)
        x = torch.randn(shape)
        for t in range(T - 1, -1, -1):
            x = scheduler.step(eps, t, x, generator=g).prev_sample

    return per_step_ms(run, T)


def q_sample_ms(side: int = 512) -> float:
    sched = make_schedule("linear", 1000)
    x0, eps = torch.rand(1, 3, side, side) * 2 - 1, torch.randn(1, 3, side, side)
    for _ in range(3):
        q_sample(sched, x0, 500, eps)
    times = []
    for t in range(0, 1000, 10):
        start = time.perf_counter()
        q_sample(sched, x0, t, eps)
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2] * 1e3


def main() -> None:
    shape, sched = (1, 3, 32, 32), make_schedule("linear", 1000)
    print(
        f"# {date.today()} on {platform.node()} ({platform.processor() or platform.machine()}), "
        f"torch {torch.__version__}, 1 thread"
    )
    ref = diffusers_ddpm(shape, 1000)
    ddpm = ours_ddpm(shape, sched)
    print("sampler overhead per step at 32x32, model excluded (best of 5 runs of 1000 steps):")
    print(f"  ours, DDPM generator      {ddpm:.4f} ms/step   (goal < 0.1 ms)")
    print(f"  ours, DDIM 50 generator   {ours_ddim(shape, sched):.4f} ms/step")
    if ref is not None:
        print(f"  diffusers DDPMScheduler.step loop  {ref:.4f} ms/step   (ours is {ref / ddpm:.1f}x faster)")
    print(f"q_sample 512x512 RGB (median of 100 t): {q_sample_ms():.2f} ms   (goal well under 16 ms)")


if __name__ == "__main__":
    main()
