"""The recorded frames of one run, with bounded memory (no Qt).

A 1000-step run at 256x256 RGB takes about 590 MB as uint8 (three panels per step) and is kept whole. When a run
would need more than the budget, the store decides up front (the number of steps and the image size are known
when the run starts) to keep an evenly spaced subset, always with the first step and the finished image, and
says so in a sentence the window shows.
"""

from __future__ import annotations

import bisect

from diffusion_studio.app.streaming import StepFrames
from diffusion_studio.io.gif import select_indices

DEFAULT_BUDGET_BYTES = 768 * 2**20


class FrameStore:
    """Frames in arrival order (t descending, the finished image last), looked up by timestep."""

    def __init__(self, budget_bytes: int = DEFAULT_BUDGET_BYTES) -> None:
        self.budget_bytes = budget_bytes
        self._frames: list[StepFrames] = []
        self._neg_ts: list[int] = []  # -t of each kept frame: ascending, for bisect
        self._ts: list[int] = []
        self._keep: set[int] | None = None
        self.expected = 0
        self.capacity = 0

    def reset(self, expected_frames: int, bytes_per_frame: int) -> None:
        """Forget everything and plan which of ``expected_frames`` frames of this size to keep."""
        self._frames.clear()
        self._neg_ts.clear()
        self._ts = []
        self.expected = expected_frames
        self.capacity = max(2, self.budget_bytes // max(bytes_per_frame, 1))
        if expected_frames <= self.capacity:
            self._keep = None
        else:
            self._keep = set(select_indices(expected_frames, frame_count=self.capacity))

    def clear(self) -> None:
        self.reset(0, 1)

    def add(self, frame: StepFrames) -> bool:
        """Store the frame if the plan keeps it; True if kept."""
        if self._keep is not None and frame.index not in self._keep:
            return False
        self._frames.append(frame)
        self._neg_ts.append(-frame.t)
        self._ts = self._ts + [frame.t]  # a new list, so a caller holding the old one sees no change
        return True

    def __len__(self) -> int:
        return len(self._frames)

    def __getitem__(self, i: int) -> StepFrames:
        return self._frames[i]

    @property
    def frames(self) -> list[StepFrames]:
        return list(self._frames)

    @property
    def timesteps(self) -> list[int]:
        """Timesteps of the kept frames, in arrival order (a new list object after every change)."""
        return self._ts

    @property
    def keeps_all(self) -> bool:
        return self._keep is None

    @property
    def nbytes(self) -> int:
        return sum(f.nbytes for f in self._frames)

    def note(self) -> str:
        """One sentence for the status bar when not every frame is kept; empty when all are."""
        if self._keep is None:
            return ""
        budget_mb = self.budget_bytes / 2**20
        return (f"Memory limit {budget_mb:.0f} MB: keeping {len(self._keep)} of {self.expected} frames "
                "(evenly spaced) for scrubbing and export.")

    def nearest(self, t: int) -> int | None:
        """Position of the kept frame whose timestep is closest to ``t`` (None when empty)."""
        if not self._frames:
            return None
        i = bisect.bisect_left(self._neg_ts, -t)
        candidates = [j for j in (i - 1, i) if 0 <= j < len(self._frames)]
        return min(candidates, key=lambda j: (abs(self._frames[j].t - t), j))

    def at(self, t: int) -> StepFrames | None:
        i = self.nearest(t)
        return None if i is None else self._frames[i]
