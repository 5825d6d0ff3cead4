"""The recorded frames of runs, within one memory budget that several stores share (no Qt).

A 1000-step run at 256x256 RGB takes about 590 MB as uint8 pictures (three panes per step), 2.4 GB as float32
tensors. When a run starts its store knows how many frames will come and how big they are, so it decides up front,
within what its :class:`MemoryBudget` has left:

1. *tensors*: keep each step's float tensors, copied into one block asked for up front (:mod:`.arena`; no
   conversion while sampling: pictures are made when painted or exported), when all of them fit as float32, or
   else as float16 (finer than the uint8 pictures shown: a picture may differ by one level where a value sits on a
   rounding boundary);
2. *pictures*: compact each frame to uint8 as it arrives (in the thread that adds it), when those fit;
3. *a subset*: keep an evenly spaced subset of pictures, always with the first step and the finished image, and
   say so in a sentence (:meth:`FrameStore.note`; :meth:`MemoryBudget.notes` collects them for every store).

One thread at a time (the sampler's worker) may :meth:`~FrameStore.add` while others read: every method takes the
store's lock, and readers get lists that later additions do not change.
"""

from __future__ import annotations

import bisect
import itertools
import threading
import weakref
from collections.abc import Hashable, Iterable, Iterator

import torch

from diffusion_studio.io.gif import select_indices
from diffusion_studio.session.arena import StepArena
from diffusion_studio.session.frames import Notice, StepFrames

DEFAULT_BUDGET_BYTES = 768 * 2**20
TENSORS, PICTURES, SUBSET = "tensors", "pictures", "subset"


class MemoryBudget:
    """Bytes shared by several frame stores: each reserves what it plans to keep when its run starts.

    A store gives its reservation back when it is cleared, reset or garbage-collected, so a comparison of several
    runs (each with its own store) stays within one limit.
    """

    def __init__(self, total_bytes: int = DEFAULT_BUDGET_BYTES) -> None:
        self.total_bytes = int(total_bytes)
        self._lock = threading.Lock()
        self._reserved: dict[Hashable, int] = {}
        self._stores: weakref.WeakValueDictionary[Hashable, FrameStore] = weakref.WeakValueDictionary()

    def available(self, key: Hashable | None = None) -> int:
        """Bytes not reserved by others (the reservation held under ``key`` counts as available to it)."""
        with self._lock:
            others = sum(n for k, n in self._reserved.items() if k != key)
        return max(0, self.total_bytes - others)

    @property
    def reserved(self) -> int:
        with self._lock:
            return sum(self._reserved.values())

    def reserve(self, key: Hashable, nbytes: int) -> None:
        """Hold ``nbytes`` under ``key`` (replacing what it held); raises ValueError beyond what is available."""
        with self._lock:
            others = sum(n for k, n in self._reserved.items() if k != key)
            if others + nbytes > self.total_bytes:
                raise ValueError(f"{nbytes} bytes asked for, {self.total_bytes - others} available")
            self._reserved[key] = nbytes

    def release(self, key: Hashable) -> None:
        with self._lock:
            self._reserved.pop(key, None)

    def _register(self, key: Hashable, store: FrameStore) -> None:
        self._stores[key] = store

    def notes(self) -> list[str]:
        """One sentence per store that keeps fewer frames than its run makes (empty when nothing was dropped)."""
        stores = sorted(self._stores.values(), key=lambda store: store._order)
        return [n for store in stores if (n := store.note())]


_keys = itertools.count()


class FrameStore:
    """Frames in arrival order (t descending, the finished image last), looked up by timestep."""

    def __init__(self, budget: MemoryBudget | int | None = None, label: str = "") -> None:
        self.budget = budget if isinstance(budget, MemoryBudget) else MemoryBudget(budget or DEFAULT_BUDGET_BYTES)
        self.label = label
        self._order = next(_keys)
        self._key = ("frame store", self._order)  # never equal to another holder's key (e.g. an id())
        self.budget._register(self._key, self)
        weakref.finalize(self, self.budget.release, self._key)
        self._lock = threading.Lock()
        self._frames: list[StepFrames] = []
        self._ts: list[int] = []
        self._ts_view: list[int] = []  # handed to readers: replaced, never changed
        self._neg_ts: list[int] = []  # -t of each kept frame: ascending, for bisect
        self._keep: set[int] | None = None
        self._latest: StepFrames | None = None
        self._arena = StepArena(0)
        self.mode = TENSORS
        self.expected = 0
        self.capacity = 0
        self.received = 0
        self.budget_bytes = 0

    def reset(self, expected_frames: int, bytes_per_frame: int, raw_bytes_per_frame: int = 0,
              limit_bytes: int | None = None) -> None:
        """Forget everything and plan how to keep ``expected_frames`` frames.

        ``bytes_per_frame`` is a frame as uint8 pictures, ``raw_bytes_per_frame`` as tensors (0: frames come as
        pictures); ``limit_bytes`` caps this store's share (e.g. the budget split between compared runs).
        """
        with self._lock:
            self.budget.release(self._key)
            room = self.budget.available(self._key)
            if limit_bytes is not None:
                room = min(room, limit_bytes)
            per_frame = max(bytes_per_frame, 1)
            self._frames, self._ts, self._neg_ts, self._ts_view = [], [], [], []
            self._latest, self.received, self.expected = None, 0, expected_frames
            raw = expected_frames * raw_bytes_per_frame
            half = torch.float16 if raw_bytes_per_frame and raw > room >= raw // 2 else None
            self._arena = StepArena(expected_frames, reuse=self._arena, dtype=half)  # the last block, if free now
            if raw_bytes_per_frame and raw // (2 if half else 1) <= room:
                self.mode, self.capacity, self._keep = TENSORS, expected_frames, None
                want = raw // (2 if half else 1)
            elif expected_frames * per_frame <= room:
                self.mode, self.capacity, self._keep = PICTURES, expected_frames, None
                want = expected_frames * per_frame
            else:
                self.mode, self.capacity = SUBSET, max(2, room // per_frame)
                self._keep = set(select_indices(expected_frames, frame_count=self.capacity))
                want = min(self.capacity * per_frame, room)
            self.budget_bytes = room
            self.budget.reserve(self._key, want)

    def restart(self) -> None:
        """Forget the frames but keep the plan (the run began again, e.g. on the CPU after running out of memory)."""
        with self._lock:
            self._frames, self._ts, self._neg_ts, self._ts_view = [], [], [], []
            self._latest, self.received = None, 0
            self._arena = StepArena(self.expected, dtype=self._arena.dtype)  # frames on screen keep the old block

    def clear(self) -> None:
        """Forget every frame and give the reservation back."""
        self.reset(0, 1)
        self.budget.release(self._key)

    def release(self) -> None:
        self.clear()

    def add(self, frame: StepFrames) -> bool:
        """Offer the next frame (one thread at a time); True if kept. The newest one is ``latest`` either way."""
        if self.mode == TENSORS:
            frame = self._arena.put(frame)
        else:
            if self._keep is not None and frame.index not in self._keep:
                with self._lock:
                    self._latest, self.received = frame, self.received + 1
                return False
            frame = frame.compact()  # before taking the lock: converting may take a while
        with self._lock:
            self._frames.append(frame)
            self._neg_ts.append(-frame.t)
            self._ts.append(frame.t)
            self._latest, self.received = frame, self.received + 1
        return True

    def __len__(self) -> int:
        return len(self._frames)

    def __getitem__(self, i: int) -> StepFrames:
        with self._lock:
            return self._frames[i]

    @property
    def frames(self) -> list[StepFrames]:
        """The kept frames (a new list: later additions do not change it)."""
        with self._lock:
            return list(self._frames)

    @property
    def latest(self) -> StepFrames | None:
        """The newest frame offered since the last reset, kept or not (what a running view follows)."""
        return self._latest

    @property
    def timesteps(self) -> list[int]:
        """Timesteps of the kept frames in arrival order; the same list object until a frame is added."""
        with self._lock:
            if len(self._ts_view) != len(self._ts):
                self._ts_view = list(self._ts)
            return self._ts_view

    @property
    def keeps_all(self) -> bool:
        return self._keep is None

    @property
    def dropped(self) -> int:
        """How many of the expected frames this store does not keep."""
        return 0 if self._keep is None else self.expected - len(self._keep)

    @property
    def nbytes(self) -> int:
        with self._lock:
            frames = list(self._frames)
        return sum(f.nbytes for f in frames)

    def note(self) -> str:
        """One sentence for the status bar when not every frame is kept; empty when all are."""
        if self._keep is None:
            return ""
        budget_mb = self.budget.total_bytes / 2**20
        who = f"{self.label}: k" if self.label else "K"
        return (f"Memory limit {budget_mb:.0f} MB: {who}eeping {len(self._keep)} of {self.expected} frames "
                "(evenly spaced) for scrubbing and export.")

    def nearest(self, t: int) -> int | None:
        """Position of the kept frame whose timestep is closest to ``t`` (None when empty)."""
        with self._lock:
            return self._nearest(t)

    def at(self, t: int) -> StepFrames | None:
        """The kept frame nearest to timestep ``t`` (None when empty)."""
        with self._lock:
            i = self._nearest(t)
            return None if i is None else self._frames[i]

    def _nearest(self, t: int) -> int | None:
        n = len(self._frames)
        if n == 0:
            return None
        i = bisect.bisect_left(self._neg_ts, -t, 0, n)
        return min((j for j in (i - 1, i) if 0 <= j < n), key=lambda j: (abs(self._ts[j] - t), j))


def record(store: FrameStore, stream: Iterable[StepFrames | Notice]) -> Iterator[Notice]:
    """Add every frame of ``stream`` to ``store`` in the calling thread, passing only the notices on.

    A restart notice empties the store first (same plan). The window runs this on its worker thread, so the GUI
    thread receives nothing per step: it reads ``store.latest`` when it repaints.
    """
    for item in stream:
        if isinstance(item, Notice):
            if item.restart:
                store.restart()
            yield item
        else:
            store.add(item)
