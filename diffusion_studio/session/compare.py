"""Compare 2 to 4 runs that start from exactly the same noise and differ in the settings a person varies.

Each run is what ``diffusion-studio sample`` gives with the same seed and its own settings: the start
x_T ~ N(0, I) is the first thing its seeded generator draws, so every run starts from the same x_T bit for bit,
and a stochastic sampler (DDPM, DDIM with eta > 0) draws its later noise from the run's own generator. Nothing
else is shared. Runs are put on one playhead by t when they visit the same timesteps, else by log-SNR
(lambda = log abar_t / (1 - abar_t)), and each run counts its own model calls.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from diffusion_studio.core.cancel import CancelToken
from diffusion_studio.errors import OptionError
from diffusion_studio.session.request import PreparedRun, RunRequest, prepare_run
from diffusion_studio.session.run import FINAL_T, RUN_BUDGET_BYTES, RecordedStep, Run, share_budget

MIN_RUNS, MAX_RUNS = 2, 4
MATCHES = ("t", "logsnr")


def _number(text: str, key: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise OptionError(f"'{text}' is not a number, as {key} needs.") from None
    if not math.isfinite(value):
        raise OptionError(f"{key} must be a finite number, not '{text}'.")
    return value


def _whole(text: str, key: str) -> int | None:
    if text.lower() in ("auto", "default"):
        return None
    if not text.lstrip("-").isdigit():
        raise OptionError(f"'{text}' is not a whole number, as {key} needs.")
    return int(text)


# key -> (how to read the text, how to apply it to a request, how to name it in a label)
SAMPLER_LABELS = {"ddpm": "DDPM", "ddim": "DDIM", "euler": "Euler", "heun": "Heun", "dpmpp_2m": "DPM-Solver++(2M)"}
_PLAN = {
    "sampler": (str.lower, lambda v: SAMPLER_LABELS.get(v, v)),
    "steps": (lambda s: _whole(s, "steps"), lambda v: "default steps" if v is None else f"{v} steps"),
    "eta": (lambda s: _number(s, "eta"), lambda v: f"eta {v:g}"),
    "spacing": (str.lower, str),
    "variance": (str.lower, lambda v: f"variance {v}"),
    "churn": (lambda s: _number(s, "churn"), lambda v: f"churn {v:g}"),
}
_REQUEST = {
    "guidance": ("cfg_scale", lambda s: _number(s, "guidance"), lambda v: f"guidance {v:g}"),
    "classifier-scale": ("classifier_scale", lambda s: _number(s, "classifier-scale"),
                         lambda v: f"classifier {v:g}"),
    "class": ("class_label", str, lambda v: f"class {v}"),
    "model": ("model", str, str),
}
VARY_KEYS = (*_PLAN, *_REQUEST)
_SAMPLER_ONLY = {"eta": "ddim", "variance": "ddpm", "churn": "heun"}  # the others would silently ignore it


@dataclass(frozen=True)
class Variant:
    """One run's differences from the base request, as (key, value) pairs, and the label they make.

    ``named`` lists the keys that the label shows (those whose values differ between the runs; all by default).
    """

    changes: tuple[tuple[str, object], ...]
    named: tuple[str, ...] | None = None

    @property
    def label(self) -> str:
        parts = []
        for key, value in self.changes:
            if self.named is not None and key not in self.named:
                continue
            name = _PLAN[key][1] if key in _PLAN else _REQUEST[key][2]
            parts.append(name(value))
        return ", ".join(parts) or "base"

    def apply(self, base: RunRequest) -> RunRequest:
        """``base`` with this run's changes; a change the run's sampler would ignore is refused."""
        plan_changes = {k: v for k, v in self.changes if k in _PLAN}
        req_changes = {_REQUEST[k][0]: v for k, v in self.changes if k in _REQUEST}
        req = replace(base, plan=replace(base.plan, **plan_changes), **req_changes)
        sampler = str(getattr(req.plan.sampler, "value", req.plan.sampler))
        for key, only in _SAMPLER_ONLY.items():
            if key in plan_changes and sampler != only and plan_changes[key] != getattr(base.plan, key):
                raise OptionError(f"{key} applies to {only.upper()} only, and run '{self.label}' uses "
                                  f"{sampler.upper()}; add --sampler {only} or vary the sampler too.")
        return req


def parse_vary(specs: Sequence[str]) -> list[Variant]:
    """``["sampler=ddpm,ddim,ddim", "steps=1000,50,10"]`` -> one Variant per run (the lists are zipped)."""
    if not specs:
        raise OptionError(f"Say what differs with --vary KEY=V1,V2 (keys: {', '.join(VARY_KEYS)}).")
    columns: list[tuple[str, list[object]]] = []
    for spec in specs:
        key, sep, values = spec.partition("=")
        key = key.strip().lower().replace("_", "-")
        if not sep or key not in VARY_KEYS:
            raise OptionError(f"--vary '{spec}' must look like KEY=V1,V2 with KEY one of {', '.join(VARY_KEYS)}.")
        if any(k == key for k, _ in columns):
            raise OptionError(f"--vary names '{key}' twice; give each key once.")
        texts = [v.strip() for v in values.split(",")]
        if any(not v for v in texts):
            raise OptionError(f"--vary '{spec}' has an empty value.")
        read = _PLAN[key][0] if key in _PLAN else _REQUEST[key][1]
        columns.append((key, [read(v) for v in texts]))
    counts = {len(vals) for _, vals in columns}
    if len(counts) != 1:
        raise OptionError("Every --vary must list the same number of values (one per run).")
    n = counts.pop()
    if not MIN_RUNS <= n <= MAX_RUNS:
        raise OptionError(f"A comparison holds {MIN_RUNS} to {MAX_RUNS} runs; --vary gives {n}.")
    named = tuple(key for key, vals in columns if len(set(vals)) > 1)
    variants = [Variant(tuple((key, vals[i]) for key, vals in columns), named) for i in range(n)]
    if len({v.changes for v in variants}) != n:
        raise OptionError("Two runs of the comparison would be identical; vary something.")
    return variants


def _shape_text(shape: tuple[int, int, int]) -> str:
    c, h, w = shape
    return f"{w}x{h} {'grey' if c == 1 else 'RGB'}"


@dataclass(eq=False)
class RunGroup:
    """Runs shown together on one playhead (a comparison, a seed grid, or a trunk's branches)."""

    runs: list[Run]
    match: str = "t"  # "t" or "logsnr"
    reference: int = 0  # the run that differences are measured against, and whose t the playhead shows
    title: str = ""

    def __post_init__(self) -> None:
        if self.match not in MATCHES:
            raise OptionError(f"Runs are matched by 't' or 'logsnr', not '{self.match}'.")
        if not 0 <= self.reference < len(self.runs):
            raise OptionError(f"The reference run must be from 1 to {len(self.runs)}.")

    @property
    def labels(self) -> list[str]:
        return [r.label for r in self.runs]

    def finest(self) -> Run:
        """The run with the most steps: its timesteps (and schedule) are the playhead's."""
        return max(self.runs, key=lambda r: len(r.timesteps))

    def playhead(self) -> list[int]:
        """The playhead's positions: the timesteps of the finest run (t descending), then the finished picture."""
        return [*self.finest().timesteps, FINAL_T]

    def frames_at(self, t: int) -> list[RecordedStep | None]:
        """Each run's frame at playhead position ``t`` (nearest in t, or in log-SNR via the finest run's schedule)."""
        if self.match == "t":
            return [r.frame_nearest_t(t) for r in self.runs]
        lam = math.inf if t < 0 else float(self.finest().prepared.schedule.log_snr[t])
        return [r.frame_nearest_log_snr(lam) for r in self.runs]

    def model_calls(self) -> list[int]:
        return [r.model_calls for r in self.runs]


def prepare_all(requests: Sequence[RunRequest],
                prepare: Callable[[RunRequest], PreparedRun] = prepare_run) -> list[PreparedRun]:
    """Prepare every run (models loaded once per name) and check they can share one start noise."""
    cache: dict[tuple, PreparedRun] = {}
    prepared = []
    for req in requests:
        if req.plan.batch != 1:
            raise OptionError("A comparison runs one picture per setting; leave --batch at 1.")
        p = prepare(req)
        key = (req.model, p.shape)
        if key in cache:  # one copy of each model in memory
            p.model = cache[key].model
        cache.setdefault(key, p)
        prepared.append(p)
    shapes = {p.shape for p in prepared}
    if len(shapes) > 1:
        sizes = " and ".join(sorted(_shape_text(s) for s in shapes))
        raise OptionError(f"The runs make pictures of different sizes ({sizes}), so they cannot share a start noise.")
    return prepared


def default_match(prepared: Sequence[PreparedRun]) -> str:
    """By t when every run visits the same timesteps of the same schedule, else by log-SNR."""
    first = prepared[0]
    same = all(p.schedule.same_as(first.schedule) and p.timesteps == first.timesteps for p in prepared[1:])
    return "t" if same else "logsnr"


Progress = Callable[[int, int, str], tuple[Callable[[RecordedStep], None] | None, Callable[[], None]]]
"""(run number, its steps, its label) -> (a per-step callback, a closer): how a caller shows progress."""


def record_runs(items: Sequence[tuple[PreparedRun, str, RunRequest | None]], cancel: CancelToken | None = None,
                progress: Progress | None = None, budget: int = RUN_BUDGET_BYTES) -> list[Run]:
    """Record one :class:`Run` per (prepared, label, request), in order, sharing ``budget`` bytes between them;
    stops early once ``cancel`` is set."""
    runs = []
    share = share_budget(len(items), budget)
    for i, (p, label, req) in enumerate(items):
        if cancel is not None and cancel.cancelled:
            break
        on_step, close = progress(i, len(p.timesteps), label) if progress else (None, lambda: None)
        try:
            runs.append(Run.start(p, label, req, cancel, on_step, share))
        finally:
            close()
    return runs


def compare(base: RunRequest, variants: Sequence[Variant], match: str | None = None, reference: int = 0,
            cancel: CancelToken | None = None, progress: Progress | None = None,
            prepare: Callable[[RunRequest], PreparedRun] = prepare_run) -> RunGroup:
    """Run every variant of ``base`` from the same start noise (see the module notes); stops early on cancel."""
    requests = [v.apply(base) for v in variants]
    prepared = prepare_all(requests, prepare)
    items = [(p, v.label, r) for p, v, r in zip(prepared, variants, requests, strict=True)]
    runs = record_runs(items, cancel, progress)
    return RunGroup(runs, match or default_match(prepared), min(reference, max(len(runs) - 1, 0)))


def difference_map(picture: np.ndarray, reference: np.ndarray, full_scale: float = 0.5) -> np.ndarray:
    """|a - b| per pixel (mean over channels, in [-1, 1] units) as an (H, W, 3) heat picture.

    Black is no difference; the colour runs through red to yellow-white at ``full_scale`` and above.
    """
    a = picture.astype(np.float32) / 127.5
    b = reference.astype(np.float32) / 127.5
    d = np.abs(a - b).mean(axis=2) / full_scale
    return heat(d)


def heat(v: np.ndarray) -> np.ndarray:
    """Values in [0, 1] (clipped) -> (H, W, 3) uint8 black-red-yellow-white, readable in grey too."""
    v = np.clip(v, 0.0, 1.0)
    r = np.clip(3 * v, 0, 1)
    g = np.clip(3 * v - 1, 0, 1)
    b = np.clip(3 * v - 2, 0, 1)
    return (np.stack([r, g, b], axis=-1) * 255 + 0.5).astype(np.uint8)
