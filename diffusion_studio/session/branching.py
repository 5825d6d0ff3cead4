"""Paths not taken: continue a run M times from one recorded step with fresh noise (DDPM paper, Fig. 7).

The branches start from the trunk's recorded float32 x_t at the chosen step, so up to and including that x_t
they are the trunk (they share its recorded steps, the same objects) and cost nothing there; after it they run
as one batch of M pictures with their own generator, M x (steps left) model calls in all. Where the branches
still disagree at the end, the picture was undecided at the branch step: :func:`spread_map` shows the per-pixel
standard deviation across branches.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from diffusion_studio.core.cancel import CancelToken
from diffusion_studio.errors import OptionError
from diffusion_studio.io.frames import EPS_RANGE, to_uint8_batch
from diffusion_studio.session.compare import RunGroup, heat
from diffusion_studio.session.frames import FINAL_T, StepFrames
from diffusion_studio.session.request import PreparedRun
from diffusion_studio.session.run import CallCounter, Run, sampler_steps

MAX_BRANCHES = 8
SPREAD_FULL_SCALE = 1.0  # a standard deviation of 1 ([-1, 1] units: black vs white) is drawn at full heat


def branch_seed(seed: int, t: int) -> int:
    """A reproducible seed for the branches' noise, distinct from the trunk's stream."""
    return int(np.random.SeedSequence([int(seed) & (2**63 - 1), int(t), 0xB7]).generate_state(1)[0])


def branch_index(trunk: Run, t: int) -> int:
    """The recorded step nearest to ``t`` that a branch can start from (its float x_t was kept)."""
    points = [i for i in trunk.branch_points() if i < trunk.done]
    if not points:
        raise OptionError("The run has no recorded step to branch from yet.")
    ts = trunk.timesteps
    return min(points, key=lambda i: (abs(ts[i] - t), i))


@dataclass(eq=False)
class Branches:
    """A trunk and its M branches on one playhead, with the branch point and the spread across branches."""

    trunk: Run
    branches: list[Run]
    at_index: int

    @property
    def at_t(self) -> int:
        return self.trunk.timesteps[self.at_index]

    @property
    def group(self) -> RunGroup:
        return RunGroup([self.trunk, *self.branches], "t", 0, f"branches from t = {self.at_t}")

    def spread(self, t: int) -> np.ndarray:
        """Per-pixel standard deviation of x0-hat across the branches at ``t`` ([-1, 1] units, mean over channels)."""
        frames = [b.frame_nearest_t(t) for b in self.branches]
        stack = np.stack([f.x0 for f in frames if f is not None]).astype(np.float64)  # exact for equal pixels
        return (stack.std(axis=0).mean(axis=2) / 127.5).astype(np.float32)

    def spread_map(self, t: int = FINAL_T) -> np.ndarray:
        """:meth:`spread` as an (H, W, 3) heat picture: black where every branch agrees."""
        return heat(self.spread(t) / SPREAD_FULL_SCALE)


def check_branch(prepared: PreparedRun, t: int, count: int) -> None:
    """Refuse, before any sampling, branches that cannot differ or a point outside the run."""
    plan, ts = prepared.plan, prepared.timesteps
    if not 1 <= count <= MAX_BRANCHES:
        raise OptionError(f"Choose 1 to {MAX_BRANCHES} branches, not {count}.")
    if plan.sampler_name.on_sigmas:
        raise OptionError(f"Branches continue DDPM or DDIM runs; a {plan.sampler_name.value} run cannot start "
                          "part-way.")
    if plan.sampler == "ddim" and plan.eta == 0:
        raise OptionError("DDIM with eta 0 is deterministic, so every branch would be the same; "
                          "use DDPM or an eta above 0.")
    if not ts[-1] <= t <= ts[0]:
        raise OptionError(f"The branch point must be between t = {ts[-1]} and t = {ts[0]} for this run, not {t}.")


def branch(trunk: Run, t: int, count: int, seed: int | None = None, cancel: CancelToken | None = None) -> Branches:
    """Continue ``trunk`` ``count`` times from its recorded step nearest ``t``, each with fresh noise."""
    check_branch(trunk.prepared, t, count)
    i = branch_index(trunk, t)
    x = trunk.x_t_float(i)
    assert x is not None  # branch_index only returns kept points
    prepared = trunk.prepared
    x = x.to(prepared.device).repeat(count, 1, 1, 1)
    fresh = branch_seed(trunk.seed if seed is None else seed, trunk.timesteps[i])
    generator = torch.Generator("cpu").manual_seed(fresh)
    counter = CallCounter(prepared.model)
    shared = [s for s in trunk.steps if s.index < i]
    budget = trunk.budget // count  # the M branches hold what one more run would
    runs = [Run(prepared, f"branch {k + 1}", trunk.request, list(trunk.timesteps), list(shared), None, 0, i,
                trunk.seed, budget, i) for k in range(count)]
    keeps = runs[0].keeps
    previous: tuple[torch.Tensor, np.ndarray] | None = None
    try:
        for step in sampler_steps(prepared, counter, x, trunk.timesteps[i:], generator, cancel):
            index = i + step.index
            last = step.t_prev < 0
            if keeps(index) or index == i or last:  # the branch point itself is always kept
                x_t = previous[1] if previous is not None and previous[0] is step.x_t else to_uint8_batch(step.x_t)
                x0, eps = to_uint8_batch(step.x0_pred), to_uint8_batch(step.eps_pred, -EPS_RANGE, EPS_RANGE)
                for k, run in enumerate(runs):
                    run.steps.append(StepFrames(index, len(run.timesteps), step.t, step.t_prev, x_t[k], x0[k], eps[k],
                                                step.abar(prepared.schedule)))
                    run._x_float[index] = step.x_t[k : k + 1].detach().to("cpu", torch.float32).clone()
            previous = (step.x_prev, to_uint8_batch(step.x_prev)) if keeps(index + 1) or last else None
            for run in runs:
                run.done = index + 1
            if last:
                for k, run in enumerate(runs):
                    final = previous[1][k]
                    n = len(run.timesteps)
                    run.final = StepFrames(n, n, FINAL_T, FINAL_T, final, final, eps[k], step.abar(prepared.schedule))
    finally:
        for run in runs:
            run.model_calls = math.ceil(counter.evaluations / count)
    return Branches(trunk, runs, i)
