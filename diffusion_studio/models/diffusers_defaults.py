"""Sampler defaults and the cost of a run for a diffusers model, said before the run starts.

A diffusers folder's scheduler config says how it was meant to be sampled (variance_type, clip_sample,
timestep_spacing, a DDIMScheduler); the studio uses those unless the person chose otherwise. A big model on the
CPU defaults to DDIM 50 steps instead of DDPM over every t (1000 steps of a 256 px model is most of an hour).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

from diffusion_studio.errors import ModelError
from diffusion_studio.models.diffusers_config import (
    SchedulerDefaults,
    find_layout,
    is_diffusers_folder,
    read_json,
    schedule_and_defaults,
)

STUDIO_DEFAULTS = {"sampler": "ddpm", "variance": "beta_tilde", "spacing": "leading"}
BIG_WEIGHT_BYTES = 40_000_000  # ~10M float32 parameters: DDPM over every t takes minutes on a CPU
CPU_DEFAULT_STEPS = 50


def diffusers_folder_of(name: str) -> Path | None:
    """The diffusers folder that ``--model name`` opens (a folder, or ORG/NAME in the HF cache), else None."""
    from diffusion_studio.models.diffusers_cache import looks_like_repo_id, snapshot_folder

    path = Path(name).expanduser()
    if path.is_dir():
        return path if is_diffusers_folder(path) else None
    if looks_like_repo_id(name):
        folder = snapshot_folder(name)
        return folder if folder is not None and is_diffusers_folder(folder) else None
    return None


def with_folder_settings(plan, info):
    """``plan`` with the settings of the model's scheduler config (a diffusers folder's): ``steps_offset`` and
    ``clip_sample_range`` say what the model's timesteps and data range are, so every run of that model (command
    line, window, compare) uses them, as diffusers does; ``final_sigmas_type``, ``lower_order_final``,
    ``euler_at_final`` and ``set_alpha_to_one`` apply when the run uses the folder's own sampler, and its Karras
    sigmas when the run also keeps its spacing."""
    folder = info.extra.get("sampler_defaults") if isinstance(info.extra, dict) else None
    if not isinstance(folder, dict):
        return plan
    plan = replace(
        plan, steps_offset=int(folder.get("steps_offset", 0)), clip_range=float(folder.get("clip_range", 1.0))
    )
    if plan.sampler != folder.get("sampler"):
        return plan  # the rest describe the folder's own scheduler, not the one chosen instead
    keys = ("final_sigmas_type", "lower_order_final", "euler_at_final", "set_alpha_to_one")
    plan = replace(plan, **{key: folder[key] for key in keys if key in folder})
    if folder.get("karras") and plan.spacing == folder.get("spacing"):
        plan = replace(plan, karras=True)  # its spacing with Karras sigmas (the window names the spacing alone)
    return plan


@dataclass(frozen=True)
class Chosen:
    """The sampler settings of a run after the model's defaults filled what the person left open."""

    sampler: str
    variance: str
    spacing: str
    clip_x0: bool
    steps: int | None
    notes: tuple[str, ...] = ()
    karras: bool = False  # the folder's use_karras_sigmas, on its own spacing (sigma samplers, spacing not given)

    def plan_settings(self) -> dict:
        """The plan fields beyond those named in the commands (for ``SamplingPlan(..., **chosen.plan_settings())``)."""
        return {"karras": self.karras}


def choose_sampler(
    model: str,
    sampler: str | None,
    variance: str | None,
    spacing: str | None,
    no_clip: bool,
    steps: int | None,
    on_cpu: bool,
) -> Chosen:
    """Fill the settings left as None from the model's scheduler config (diffusers folders), else the studio's."""
    folder = diffusers_folder_of(model)
    defaults, notes, big = SchedulerDefaults(), [], False
    if folder is not None:
        try:
            layout = find_layout(folder)
            _, defaults = schedule_and_defaults(read_json(layout.scheduler_config), layout.scheduler_config)
            big = layout.weights.is_file() and layout.weights.stat().st_size > BIG_WEIGHT_BYTES
        except (ModelError, OSError):
            defaults = SchedulerDefaults()  # the loader will say what is wrong, in one sentence
        notes.extend(defaults.notes)
    chosen_sampler = sampler or defaults.sampler
    if sampler is None and steps is None and big and on_cpu:
        chosen_sampler, steps = "ddim", CPU_DEFAULT_STEPS
        notes.append(
            f"a model this size defaults to DDIM {CPU_DEFAULT_STEPS} steps on the CPU (--sampler ddpm for every step)"
        )
    on_sigmas = chosen_sampler in ("euler", "heun", "dpmpp_2m")
    folder_spacing = defaults.spacing if folder is not None else None  # None: the sampler's own default
    if folder_spacing == "karras" and not on_sigmas:
        folder_spacing = "linspace"  # DDPM/DDIM on a Karras folder: its timestep spacing, without the sigmas
    return Chosen(
        sampler=chosen_sampler,
        variance=variance or defaults.variance,
        spacing=spacing or folder_spacing,
        clip_x0=defaults.clip_x0 and not no_clip,
        steps=steps,
        notes=tuple(notes),
        karras=spacing is None and on_sigmas and defaults.karras,
    )


def measure_cost(prepared, repeats: int = 1) -> tuple[float, str]:
    """Seconds per model call (timed after one warm-up call, at the run's batch size) and a one-line summary."""
    import torch

    info = prepared.model.info
    steps = len(prepared.plan.timesteps(prepared.schedule))
    x = torch.zeros((prepared.plan.batch, *prepared.shape), device=prepared.device)
    t = torch.full((prepared.plan.batch,), prepared.schedule.T // 2, dtype=torch.long, device=prepared.device)
    y = None
    if info.class_names:
        y = torch.zeros(prepared.plan.batch, dtype=torch.long, device=prepared.device)
    prepared.model.predict_eps(x, t, prepared.schedule, y)  # the first call pays for one-time set-up
    if prepared.device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        prepared.model.predict_eps(x, t, prepared.schedule, y)
    if prepared.device.type == "cuda":
        torch.cuda.synchronize()
    per_step = (time.perf_counter() - start) / repeats
    calls = 2 if prepared.plan.guidance.cfg_scale != 1.0 else 1
    total = per_step * steps * calls
    side = info.image_size or prepared.shape[-1]
    precision = "float16" if getattr(prepared.model, "half", False) else "float32"
    line = (
        f"{info.name}: {info.parameters / 1e6:.1f}M parameters, {side}x{side}, {prepared.plan.sampler.upper()} "
        f"{steps} steps on {prepared.device.type} ({precision}): about {per_step:.2f} s per step, "
        f"{_duration(total)} in all"
    )
    return per_step, line


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def model_sampler_defaults(args) -> Chosen:
    """:func:`choose_sampler` for the ``sample`` command's arguments."""
    from diffusion_studio.runs import resolve_device

    on_cpu = resolve_device(args.device).type == "cpu"
    return choose_sampler(args.model, args.sampler, args.variance, args.spacing, args.no_clip, args.steps, on_cpu)


def say_cost(prepared, notes: tuple[str, ...] = (), quiet: bool = False) -> None:
    """Before a run of a diffusers model: its size, the measured seconds per step and the total, on stderr."""
    import sys

    if quiet or prepared.model.info.extra.get("architecture") != "diffusers-UNet2DModel":
        return
    _, line = measure_cost(prepared)
    print(line, file=sys.stderr)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
