"""A seed grid: the same settings for several seeds (4 or 9 fill a square), on one playhead.

The model is prepared once; each seed is one :class:`Run` of the same plan with only the seed replaced, so each
cell is exactly what ``diffusion-studio sample --seed N`` gives.
"""

from __future__ import annotations

import math
from dataclasses import replace

from diffusion_studio.core.cancel import CancelToken
from diffusion_studio.errors import OptionError
from diffusion_studio.session.compare import Progress, RunGroup, record_runs
from diffusion_studio.session.request import PreparedRun

MAX_SEEDS = 16


def parse_seeds(text: str) -> list[int]:
    """``"0-8"`` -> 0..8; ``"1,5,9,13"`` -> those; a mix of both is fine. 2 to 16 distinct seeds."""
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        lo, dash, hi = part.partition("-") if not part.startswith("-") else (part, "", "")
        try:
            seeds.extend(range(int(lo), int(hi) + 1) if dash else [int(part)])
        except ValueError:
            raise OptionError(f"--seeds '{text}' must be like 0-8 or 1,5,9,13 (whole numbers).") from None
        if len(seeds) > MAX_SEEDS:
            break
    if len(set(seeds)) != len(seeds):
        raise OptionError(f"--seeds '{text}' names a seed twice.")
    if not 2 <= len(seeds) <= MAX_SEEDS:
        raise OptionError(f"--seeds must give 2 to {MAX_SEEDS} seeds (4 or 9 make a square grid).")
    if any(not -(2**63) <= s < 2**63 for s in seeds):
        raise OptionError("Seeds must fit in 64 bits.")
    return seeds


def grid_columns(n: int) -> int:
    return math.ceil(math.sqrt(n))


def seed_grid(prepared: PreparedRun, seeds: list[int], cancel: CancelToken | None = None,
              progress: Progress | None = None) -> RunGroup:
    """One run per seed with everything else the same."""
    items = [(replace(prepared, plan=replace(prepared.plan, seed=seed)), f"seed {seed}", None) for seed in seeds]
    return RunGroup(record_runs(items, cancel, progress), "t", 0, "seeds")
