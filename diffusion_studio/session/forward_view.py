"""The forward process of one picture, fast enough to scrub (no Qt).

x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps (Ho et al. 2020, eq. 4) with one fixed eps, computed straight into
display units: x0 and eps are kept pre-scaled by 127.5 as float32, so a new t costs two multiplies, an add, a clip
and a cast into preallocated buffers (about 3 ms for a 512x512 RGB picture). The chained one-step process
q(x_t | x_{t-1}) is a generator meant for a worker thread, stored with a memory budget by :class:`ChainStore`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import torch

from diffusion_studio.core.cancel import CancelToken
from diffusion_studio.core.forward import q_chain
from diffusion_studio.core.schedules import Schedule
from diffusion_studio.io.frames import EPS_RANGE, tile, to_uint8_batch
from diffusion_studio.io.images import image_to_tensor

CHAIN_BUDGET_BYTES = 256 * 2**20


class ForwardProcess:
    """Closed-form x_t of ``image`` (H, W, C uint8) under ``schedule`` with a fixed, reseedable eps."""

    def __init__(self, image: np.ndarray, schedule: Schedule, seed: int = 0) -> None:
        self.image = np.ascontiguousarray(image if image.ndim == 3 else image[:, :, None])
        self._x0_scaled = self.image.astype(np.float32) - 127.5  # 127.5 * x0, x0 in [-1, 1]
        self._buf = np.empty(self.image.shape, np.float32)
        self._tmp = np.empty(self.image.shape, np.float32)
        self.seed = seed
        self.set_schedule(schedule)
        self.resample(seed)

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.image.shape  # type: ignore[return-value]

    def set_schedule(self, schedule: Schedule) -> None:
        self.schedule = schedule
        self._a = schedule.sqrt_alpha_bars.astype(np.float32)
        self._b = schedule.sqrt_one_minus_alpha_bars.astype(np.float32)

    def resample(self, seed: int) -> None:
        """Draw a new eps ~ N(0, I) from ``seed`` (the same seed gives the same noise)."""
        self.seed = seed
        self.eps = np.random.default_rng(seed).standard_normal(self.image.shape, dtype=np.float32)
        self._eps_scaled = self.eps * np.float32(127.5)
        scaled = self.eps * np.float32(127.5 / EPS_RANGE) + np.float32(128.0)
        self.eps_uint8 = np.clip(scaled, 0, 255).astype(np.uint8)

    def x_t(self, t: int) -> np.ndarray:
        """x_t as (H, W, C) uint8; t < 0 is the clean picture itself (abar_{-1} = 1)."""
        if t < 0:
            return self.image
        t = min(int(t), self.schedule.T - 1)
        np.multiply(self._x0_scaled, self._a[t], out=self._buf)
        np.multiply(self._eps_scaled, self._b[t], out=self._tmp)
        self._buf += self._tmp
        self._buf += np.float32(128.0)  # back to 0..255, +0.5 so the cast rounds
        np.clip(self._buf, 0.0, 255.0, out=self._buf)
        return self._buf.astype(np.uint8)

    def x_t_float(self, t: int) -> np.ndarray:
        """x_t in model units ([-1, 1] scale) as float32: what :func:`core.forward.q_sample` gives."""
        x0 = self._x0_scaled / np.float32(127.5)
        if t < 0:
            return x0
        return self._a[t] * x0 + self._b[t] * self.eps

    def chain(self, seed: int, cancel: CancelToken | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """The chained process x_t ~ q(x_t | x_{t-1}) for t = 0..T-1 as (t, uint8) pairs (for a worker)."""
        x0 = image_to_tensor(self.image)[None]
        generator = torch.Generator("cpu").manual_seed(int(seed))
        for t, x in q_chain(self.schedule, x0, generator):
            if cancel is not None and cancel.cancelled:
                return
            images = to_uint8_batch(x)
            yield t, images[0] if images.shape[0] == 1 else tile(images)


class ChainStore:
    """Frames of the chained process; above the budget it keeps every ``stride``-th t (and the last)."""

    def __init__(self, T: int, bytes_per_frame: int, budget_bytes: int = CHAIN_BUDGET_BYTES) -> None:  # noqa: N803
        self.T = T
        self.stride = max(1, math.ceil(T * bytes_per_frame / budget_bytes))
        self._frames: dict[int, np.ndarray] = {}
        self.done_up_to = -1

    def add(self, t: int, frame: np.ndarray) -> None:
        if t % self.stride == 0 or t == self.T - 1:
            self._frames[t] = frame
        self.done_up_to = t

    def at(self, t: int) -> tuple[int, np.ndarray] | None:
        """The stored frame nearest below or at ``t`` as (its t, frame); None until it is computed."""
        if t > self.done_up_to:
            return None
        key = self.T - 1 if t == self.T - 1 else t - t % self.stride
        frame = self._frames.get(key)
        return None if frame is None else (key, frame)

    @property
    def progress(self) -> float:
        return (self.done_up_to + 1) / self.T
