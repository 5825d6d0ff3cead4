"""A run as a plain object: its request, its prepared plan, its recorded steps, its label and its cost.

A :class:`Run` records every step compactly: x_t, the predicted x0 and the predicted eps as uint8 pictures in
the frame stream's :class:`~diffusion_studio.session.frames.StepFrames` (what the window and the exports show),
and x_t itself in float32 so that a branch (:mod:`.branching`) can continue from the exact x_t of any recorded
step: 7 bytes per value and step. A run has a byte budget (a
comparison splits one budget between its runs, see :func:`share_budget`); when its steps would need more, it
decides up front to keep every k-th step (and the last, and the finished picture), branch points and the
playhead snap to those, and :meth:`Run.note` says so in a sentence.

``model_calls`` counts eps_theta evaluations of one picture (a classifier-free guided step costs two, a batch
of M pictures costs M per step), so runs of any batch size and any sampler compare by the same unit.
A cancelled run keeps its generator's state, and :meth:`Run.continue_from` finishes it exactly as if it had
never stopped.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from diffusion_studio.core.cancel import CancelToken
from diffusion_studio.core.plan import plan_steps, start_sample
from diffusion_studio.core.samplers import Step
from diffusion_studio.errors import ModelError, OptionError
from diffusion_studio.io.frames import EPS_RANGE, to_uint8_batch
from diffusion_studio.session.frames import FINAL_T, StepFrames
from diffusion_studio.session.request import PreparedRun, RunRequest

RUN_BUDGET_BYTES = 768 * 2**20  # one run alone; runs shown together share it (share_budget)
BYTES_PER_VALUE = 3 + 4  # three uint8 pictures and one float32 x_t per step


def bytes_needed(prepared: PreparedRun) -> int:
    """What a run of ``prepared`` holds when it keeps every step (pictures and float x_t)."""
    c, h, w = prepared.shape
    return len(prepared.timesteps) * BYTES_PER_VALUE * c * h * w


def share_budget(runs: int, total: int = RUN_BUDGET_BYTES) -> int:
    """Each run's part of one budget when ``runs`` are held together (a comparison, a seed grid)."""
    return total // max(runs, 1)


RecordedStep = StepFrames  # a run's step is the frame stream's frame, holding uint8 pictures


class CallCounter:
    """Wraps a model and counts eps_theta evaluations, one per picture in each batch it is given."""

    def __init__(self, model) -> None:
        self.model = model
        self.evaluations = 0

    def predict_eps(self, x_t, t, schedule, y=None):
        self.evaluations += int(x_t.shape[0])
        return self.model.predict_eps(x_t, t, schedule, y)

    def forward(self, x_t, t, schedule, y=None):
        """The raw output (x0 or v), which the sigma-grid samplers read directly as diffusers does: a call too."""
        self.evaluations += int(x_t.shape[0])
        return self.model.forward(x_t, t, schedule, y)

    def __getattr__(self, name: str):
        return getattr(self.model, name)


def sampler_steps(
    prepared: PreparedRun,
    model,
    x_start: torch.Tensor,
    timesteps: list[int],
    generator: torch.Generator,
    cancel: CancelToken | None = None,
) -> Iterator[Step]:
    """The prepared plan's sampler over ``timesteps`` from ``x_start`` (run_plan's dispatch with the start given).

    DDPM and DDIM can start part-way (a branch, a continued run); the sigma-grid samplers run whole only.
    """
    plan, name = prepared.plan, prepared.plan.sampler_name
    if name.on_sigmas:
        if list(timesteps) != list(prepared.timesteps):
            raise OptionError(f"A {name.value} run cannot start part-way (branch or continue); use ddpm or ddim.")
        timesteps = None  # the whole grid
    return plan_steps(model, prepared.schedule, plan, x_start, timesteps, generator, cancel)


_EMPTY = (np.zeros((0, 0, 1), np.uint8),) * 3  # what on_step sees for a step that was computed but not kept


def _pictures(x: torch.Tensor, lo: float = -1.0, hi: float = 1.0) -> list[np.ndarray]:
    """(B, C, H, W) -> B contiguous (H, W, C) uint8 pictures."""
    batch = to_uint8_batch(x, lo, hi)
    return [batch[i] for i in range(batch.shape[0])]


@dataclass(eq=False)
class Run:
    """One picture's run: what was asked, the plan it ran, its steps so far, and what it cost."""

    prepared: PreparedRun
    label: str = ""
    request: RunRequest | None = None
    timesteps: list[int] = field(default_factory=list)  # every t this run visits (a branch: the trunk's too)
    steps: list[RecordedStep] = field(default_factory=list)
    final: RecordedStep | None = None
    model_calls: int = 0  # eps evaluations this run paid for (a branch: only those after the branch point)
    own_from: int = 0  # index of the first step this run computed itself (> 0 for a branch)
    seed: int = 0
    budget: int = RUN_BUDGET_BYTES
    done: int = 0  # steps computed so far (a branch counts the trunk's before its own)
    notice: str = ""  # something the person should know (e.g. the run moved to the CPU)
    _x_float: dict[int, torch.Tensor] = field(default_factory=dict, repr=False)
    _resume: tuple[torch.Tensor, torch.Tensor] | None = field(default=None, repr=False)  # (x next, rng state)

    def __post_init__(self) -> None:
        if not self.timesteps:
            self.timesteps = list(self.prepared.timesteps)

    # -- state ------------------------------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        return self.final is not None

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.prepared.shape

    @property
    def frames(self) -> list[RecordedStep]:
        """Every recorded step and, once finished, the finished picture (t = -1) last."""
        return [*self.steps, self.final] if self.final is not None else list(self.steps)

    @property
    def stride(self) -> int:
        """Every ``stride``-th step is kept (1: all of them), so the run stays within its budget."""
        c, h, w = self.shape
        need = len(self.timesteps) * BYTES_PER_VALUE * c * h * w
        return max(1, math.ceil(need / max(self.budget, 1)))

    def keeps(self, index: int) -> bool:
        return index % self.stride == 0 or index == len(self.timesteps) - 1

    def x_t_float(self, index: int) -> torch.Tensor | None:
        """The exact float32 x_t (1, C, H, W) that went into step ``index``, if it was kept."""
        return self._x_float.get(index)

    def branch_points(self) -> list[int]:
        """Indices of the recorded steps whose float x_t is kept (where a branch can start)."""
        return sorted(self._x_float)

    def note(self) -> str:
        """One sentence when not every step is kept; empty when all are."""
        if self.stride == 1:
            return ""
        kept = len([i for i in range(len(self.timesteps)) if self.keeps(i)])
        return (f"{self.label or 'This run'}: memory limit {self.budget / 2**20:.0f} MB, keeping {kept} of "
                f"{len(self.timesteps)} steps (every {self.stride}th) for the playhead, exports and branches.")

    @property
    def nbytes(self) -> int:
        """Bytes held by this run's own pictures and float copies (shared trunk steps are not counted)."""
        own = sum(s.nbytes for s in self.steps if s.index >= self.own_from)
        return own + sum(x.numel() * 4 for i, x in self._x_float.items() if i >= self.own_from)

    # -- playhead ---------------------------------------------------------------------------------------
    def frame_nearest_t(self, t: int) -> RecordedStep | None:
        """The recorded frame whose t is nearest to ``t`` (ties go to the noisier one); None when empty."""
        frames = self.frames
        if not frames:
            return None
        neg = [-f.t for f in frames]
        i = bisect.bisect_left(neg, -t)
        candidates = [j for j in (i - 1, i) if 0 <= j < len(frames)]
        return frames[min(candidates, key=lambda j: (abs(frames[j].t - t), j))]

    def frame_nearest_log_snr(self, log_snr: float) -> RecordedStep | None:
        """The recorded frame nearest in log-SNR (Kingma et al. 2021's lambda = log abar/(1 - abar))."""
        frames = self.frames
        if not frames:
            return None
        table = self.prepared.schedule.log_snr

        def distance(f: RecordedStep) -> float:
            if f.t < 0:
                return 0.0 if math.isinf(log_snr) else math.inf
            return math.inf if math.isinf(log_snr) else abs(float(table[f.t]) - log_snr)

        return min(frames, key=distance)

    # -- recording --------------------------------------------------------------------------------------
    def record(self, steps: Iterator[Step], counter: CallCounter, generator: torch.Generator,
               on_step: Callable[[RecordedStep], None] | None = None) -> Run:
        """Consume a sampler's steps (batch of one), keeping pictures, float x_t and the cost."""
        before = counter.evaluations
        previous: tuple[torch.Tensor, np.ndarray] | None = None
        try:
            for step in steps:
                index = self.done
                last = step.t_prev < 0
                rec = None
                if self.keeps(index) or last:
                    reuse = previous is not None and previous[0] is step.x_t
                    x_t = previous[1] if reuse else _pictures(step.x_t)[0]
                    rec = StepFrames(index, len(self.timesteps), step.t, step.t_prev, x_t,
                                     _pictures(step.x0_pred)[0], _pictures(step.eps_pred, -EPS_RANGE, EPS_RANGE)[0],
                                     step.abar(self.prepared.schedule))
                    self._x_float[index] = step.x_t.detach().to("cpu", torch.float32).clone()
                    self.steps.append(rec)
                # the next step's x_t picture comes from here only when that step will be kept
                keep_next = self.keeps(index + 1)
                previous = (step.x_prev, _pictures(step.x_prev)[0]) if keep_next or last else None
                self.done = index + 1
                self._resume = (step.x_prev, generator.get_state())
                if last:
                    final = previous[1]
                    n = len(self.timesteps)
                    self.final = StepFrames(n, n, FINAL_T, FINAL_T, final, final, rec.eps, rec.pred_abar)
                    self._resume = None
                if on_step is not None:
                    on_step(rec or StepFrames(index, len(self.timesteps), step.t, step.t_prev, *_EMPTY))
        finally:
            self.model_calls += counter.evaluations - before
        return self

    @classmethod
    def start(cls, prepared: PreparedRun, label: str = "", request: RunRequest | None = None,
              cancel: CancelToken | None = None, on_step: Callable[[RecordedStep], None] | None = None,
              budget: int = RUN_BUDGET_BYTES) -> Run:
        """Seed, draw the start (as :func:`core.plan.run_plan`: the same seed gives the same noise) and record.

        If CUDA runs out of memory, the run starts again on the CPU (same seed, so the same picture), as the
        frame stream does, and :attr:`notice` says so.
        """
        if prepared.plan.batch != 1:
            raise ValueError("A Run holds one picture; use batch 1.")
        try:
            return cls._record_from_start(prepared, label, request, cancel, on_step, budget)
        except torch.cuda.OutOfMemoryError as err:
            if prepared.device.type == "cpu":
                raise ModelError("The computer ran out of memory during sampling; try a smaller image.") from err
            prepared.model.to("cpu")
            torch.cuda.empty_cache()
            on_cpu = replace(prepared, device=torch.device("cpu"))
            run = cls._record_from_start(on_cpu, label, request, cancel, on_step, budget)
            run.notice = "The GPU ran out of memory, so the run started again on the CPU (same seed)."
            return run

    @classmethod
    def _record_from_start(cls, prepared: PreparedRun, label: str, request: RunRequest | None,
                           cancel: CancelToken | None, on_step: Callable[[RecordedStep], None] | None,
                           budget: int) -> Run:
        plan = prepared.plan
        run = cls(prepared, label, request, seed=int(plan.seed), budget=budget)
        generator = torch.Generator("cpu").manual_seed(int(plan.seed))
        x_start = start_sample(plan, prepared.schedule, prepared.shape, generator, prepared.init, prepared.device)
        counter = CallCounter(prepared.model)
        steps = sampler_steps(prepared, counter, x_start, run.timesteps, generator, cancel)
        return run.record(steps, counter, generator, on_step)

    @classmethod
    def continue_from(cls, run: Run, cancel: CancelToken | None = None,
                      on_step: Callable[[RecordedStep], None] | None = None) -> Run:
        """Finish a cancelled run: the same steps and the same random numbers as an uninterrupted run.

        The new run shares the recorded steps (the same objects) and counts only the calls it makes.
        """
        if run.finished:
            raise ValueError("This run is finished; there is nothing to continue.")
        if run._resume is None and run.own_from > 0:
            raise ValueError("A branch that stopped cannot be continued; branch again from the trunk.")
        if run._resume is None:  # stopped before its first step
            return cls.start(run.prepared, run.label, run.request, cancel, on_step, run.budget)
        x_next, state = run._resume
        done = run.done
        new = cls(run.prepared, run.label, run.request, list(run.timesteps), list(run.steps), own_from=run.own_from,
                  seed=run.seed, budget=run.budget, done=done, _x_float=dict(run._x_float), _resume=run._resume)
        generator = torch.Generator("cpu")
        generator.set_state(state)
        counter = CallCounter(run.prepared.model)
        steps = sampler_steps(run.prepared, counter, x_next, run.timesteps[done:], generator, cancel)
        return new.record(steps, counter, generator, on_step)
