"""Core figures: sampler overhead per step (model excluded) vs diffusers, q_sample at 512x512, lens costs.

Run: python benchmarks/bench_core.py   (prints figures; each beside its reference measured in the same run)
"""

from __future__ import annotations

import platform
import time
from datetime import date

import torch

from diffusion_studio.core import CancelToken, make_schedule, q_sample, sigma_grid, sigma_sampler
from diffusion_studio.core.lens_spectrum import step_spectrum
from diffusion_studio.core.lens_trajectory import trajectory_pca
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


DIFFUSERS_SCHEDULERS = {
    "euler": "EulerDiscreteScheduler",
    "heun": "HeunDiscreteScheduler",
    "dpmpp_2m": "DPMSolverMultistepScheduler",
}


def ours_sigma_sampler(name: str, shape, sched, steps: int = 50) -> float:
    """ms per model call of a Euler / Heun / DPM-Solver++(2M) run on Karras sigmas (Heun: 2 calls a step)."""
    model, grid = FreeModel(shape), sigma_grid(name, sched, steps, "karras")
    calls = 2 * steps - 1 if name == "heun" else steps

    def run() -> None:
        for _ in sigma_sampler(name, model, sched, torch.randn(shape), grid, cancel=CancelToken()):
            pass

    return per_step_ms(run, calls)


def diffusers_sigma_scheduler(name: str, shape, T: int, steps: int = 50) -> float | None:  # noqa: N803
    """The same work in diffusers: scale_model_input + step per model call, Karras sigmas."""
    try:
        import diffusers
    except ImportError:
        return None
    scheduler = getattr(diffusers, DIFFUSERS_SCHEDULERS[name])(num_train_timesteps=T, use_karras_sigmas=True)
    eps = FreeModel(shape).eps

    def run() -> None:
        scheduler.set_timesteps(steps)
        x = torch.randn(shape) * scheduler.init_noise_sigma
        for t in scheduler.timesteps:
            scheduler.scale_model_input(x, t)
            x = scheduler.step(eps, t, x).prev_sample

    scheduler.set_timesteps(steps)
    return per_step_ms(run, len(scheduler.timesteps))


def pca_seconds(steps: int = 1000, side: int = 32) -> float:
    """Trajectory PCA (2 components) of a 1000-frame 32x32 RGB run (a random walk stands in for x_t)."""
    frames = torch.randn(steps, 3, side, side, generator=torch.Generator().manual_seed(0)).cumsum(0)
    trajectory_pca([frames])
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        trajectory_pca([frames])
        best = min(best, time.perf_counter() - start)
    return best


def spectrum_ms(side: int = 64) -> float:
    """The spectrum lens for one step (x_t, x0-hat, eps-hat) at 64x64 RGB: what a playhead move recomputes."""
    g = torch.Generator().manual_seed(0)
    x = [torch.randn(1, 3, side, side, generator=g) for _ in range(3)]
    step_spectrum(*x, 0.5)
    return per_step_ms(lambda: [step_spectrum(*x, 0.5) for _ in range(20)], 20)


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
    print("Karras-style samplers at 32x32, 50 Karras steps, per model call, model excluded (best of 5):")
    for name in DIFFUSERS_SCHEDULERS:
        ours = ours_sigma_sampler(name, shape, sched)
        theirs = diffusers_sigma_scheduler(name, shape, 1000)
        line = f"  {name:9s} ours {ours:.4f} ms/call"
        if theirs is not None:
            line += f"   diffusers {DIFFUSERS_SCHEDULERS[name]} {theirs:.4f} ms/call ({theirs / ours:.1f}x ours)"
        print(line)
    print(f"q_sample 512x512 RGB (median of 100 t): {q_sample_ms():.2f} ms   (goal well under 16 ms)")
    print(f"spectrum lens, one step of 64x64 RGB (x_t, x0, eps): {spectrum_ms():.2f} ms   (goal: within 16 ms)")
    print(f"trajectory PCA of a 1000-step 32x32 RGB run: {pca_seconds():.3f} s   (goal < 0.5 s)")


if __name__ == "__main__":
    main()
