"""GIF export: our global-palette export_gif against Pillow's default per-frame palettes, in one run.

    python benchmarks/bench_gif.py [--frames 200] [--size 256]

The frames imitate a DDPM run shown in denoising order: x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps on the
linear beta schedule (T = 1000), with x0 a synthetic picture (colour gradients plus shapes) and eps fixed.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import PIL
from PIL import Image

from diffusion_studio.io.gif import GifOptions, export_gif


def synthetic_image(size: int) -> np.ndarray:
    """A smooth colour picture in [-1, 1]: gradients, a disc and a bar."""
    yy, xx = np.mgrid[0:size, 0:size] / (size - 1)
    img = np.stack([xx, yy, 0.5 + 0.5 * np.sin(6 * xx) * np.cos(4 * yy)], axis=-1) * 2 - 1
    img[(xx - 0.4) ** 2 + (yy - 0.45) ** 2 < 0.04] = (0.9, -0.5, -0.2)
    img[(np.abs(yy - 0.8) < 0.05) & (np.abs(xx - 0.6) < 0.3)] = (-0.8, -0.8, 0.7)
    return img


def denoising_frames(count: int, size: int, seed: int = 0) -> tuple[list[np.ndarray], list[str]]:
    abar = np.cumprod(1.0 - np.linspace(1e-4, 0.02, 1000))
    steps = np.linspace(999, 0, count).round().astype(int)
    x0 = synthetic_image(size)
    eps = np.random.default_rng(seed).standard_normal(x0.shape)
    frames = []
    for t in steps:
        x_t = np.sqrt(abar[t]) * x0 + np.sqrt(1.0 - abar[t]) * eps
        frames.append(((np.clip(x_t, -1, 1) + 1) * 127.5).round().astype(np.uint8))
    return frames, [f"t = {t}" for t in steps]


def pillow_default(path: Path, frames: list[np.ndarray]) -> None:
    """What a plain save_all of RGB frames does: Pillow quantises each frame to its own palette."""
    images = [Image.fromarray(f) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=50, loop=0)


def timed(fn: object, *args: object) -> float:
    start = time.perf_counter()
    fn(*args)  # type: ignore[operator]
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()
    frames, labels = denoising_frames(args.frames, args.size)
    print(
        f"{datetime.date.today()}  Python {platform.python_version()}  Pillow {PIL.__version__}  "
        f"{os.cpu_count()} CPUs  {platform.machine()}"
    )
    print(f"{args.frames} frames of {args.size}x{args.size} RGB")
    with tempfile.TemporaryDirectory() as folder:
        ours, labelled, default = (Path(folder) / name for name in ("ours.gif", "labels.gif", "pillow.gif"))
        t_ours = timed(export_gif, ours, frames, labels, GifOptions(label=False))
        t_labels = timed(export_gif, labelled, frames, labels, GifOptions(label=True))
        t_default = timed(pillow_default, default, frames)
        rows = [
            ("export_gif (global palette)", t_ours, ours),
            ("export_gif + labels", t_labels, labelled),
            ("Pillow default (per frame)", t_default, default),
        ]
        for name, seconds, path in rows:
            print(f"  {name:<28} {seconds:7.2f} s  {path.stat().st_size / 1e6:7.2f} MB")
        print(
            f"  ratio default/ours: {t_default / t_ours:.1f}x time, "
            f"{default.stat().st_size / ours.stat().st_size:.1f}x size"
        )


if __name__ == "__main__":
    main()
