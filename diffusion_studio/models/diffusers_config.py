"""Read a diffusers folder's JSON files (no torch, no diffusers): its layout, its U-Net and its scheduler.

Two layouts are accepted (both written by diffusers):
    flat      config.json (a UNet2DModel), diffusion_pytorch_model.safetensors, scheduler_config.json
              (as in every google/ddpm-* repository)
    pipeline  model_index.json, unet/{config.json, diffusion_pytorch_model.safetensors},
              scheduler/scheduler_config.json (what ``DDPMPipeline.save_pretrained`` writes)

The scheduler config maps onto the studio's :class:`Schedule` and the sampler defaults; every check failure is a
:class:`ModelError` with one sentence naming the file.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from diffusion_studio.core.parameterization import Prediction
from diffusion_studio.core.schedules import MAX_T, MIN_T, Schedule, make_schedule
from diffusion_studio.errors import ModelError, OptionError

WEIGHTS = "diffusion_pytorch_model.safetensors"
PICKLED_WEIGHTS = "diffusion_pytorch_model.bin"
UNET_CLASS = "UNet2DModel"
MAX_JSON_BYTES = 4 * 1024 * 1024  # a 4000-entry trained_betas list is ~100 kB; refuse anything absurd
MAX_SIDE = 1024
MAX_CHANNELS = 4096
MAX_BLOCKS = 8
# diffusers' beta_schedule names -> the studio's schedule kinds (core/schedules.py)
BETA_SCHEDULES = {
    "linear": "linear",
    "scaled_linear": "scaled_linear",
    "squaredcos_cap_v2": "cosine",
    "sigmoid": "sigmoid",
}
# variance_type -> the studio's DDPM variance (fixed_small = posterior variance beta~_t, fixed_large = beta_t)
VARIANCES = {
    "fixed_small": "beta_tilde",
    "fixed_small_log": "beta_tilde",
    "fixed_large": "beta",
    "fixed_large_log": "beta",
}
SPACINGS = ("leading", "trailing", "linspace")
# true/false keys the plan applies, with diffusers' defaults
FLAGS = {"lower_order_final": True, "euler_at_final": False, "set_alpha_to_one": True}
# each scheduler class's own defaults for keys a config may leave out (diffusers 0.42.1 __init__ signatures)
CLASS_DEFAULTS = {
    "EulerDiscreteScheduler": {"timestep_spacing": "linspace"},
    "HeunDiscreteScheduler": {
        "timestep_spacing": "linspace",
        "beta_start": 0.00085,
        "beta_end": 0.012,
        "clip_sample": False,
    },
    "DPMSolverMultistepScheduler": {"timestep_spacing": "linspace"},
}
# the scheduler a folder names -> the studio's default sampler (others, DDPM included: ddpm)
SAMPLERS = {
    "DDIMScheduler": "ddim",
    "EulerDiscreteScheduler": "euler",
    "HeunDiscreteScheduler": "heun",
    "DPMSolverMultistepScheduler": "dpmpp_2m",
}


@dataclass(frozen=True)
class DiffusersLayout:
    """Where a diffusers folder keeps its three files (``weights`` may not exist: see ``pickled``)."""

    root: Path
    kind: str  # "flat" or "pipeline"
    unet_config: Path
    weights: Path
    scheduler_config: Path

    @property
    def pickled(self) -> Path:
        return self.weights.with_name(PICKLED_WEIGHTS)


@dataclass(frozen=True)
class SchedulerDefaults:
    """What the scheduler config says about sampling: the studio uses these unless the person chose otherwise."""

    sampler: str = "ddpm"  # "ddim" when the folder names a DDIMScheduler
    variance: str = "beta_tilde"
    clip_x0: bool = True
    clip_range: float = 1.0
    spacing: str = "leading"  # or "karras": linspace with Karras sigmas
    karras: bool = False  # use_karras_sigmas (Euler, Heun, DPM-Solver++), on any spacing
    steps_offset: int = 0
    final_sigmas_type: str = "zero"  # Euler, DPM-Solver++
    lower_order_final: bool = True  # DPM-Solver++
    euler_at_final: bool = False  # DPM-Solver++
    set_alpha_to_one: bool = True  # DDIM
    prediction: str = Prediction.EPSILON.value
    scheduler_class: str = "DDPMScheduler"
    notes: tuple[str, ...] = ()  # settings the studio reads but does not reproduce exactly


def is_diffusers_folder(folder: Path) -> bool:
    """True when ``folder`` looks like either diffusers layout (a file named as diffusers names them)."""
    if (folder / "model_index.json").is_file():
        return True
    named = ("scheduler_config.json", WEIGHTS, PICKLED_WEIGHTS)  # a missing one is then named by the loader
    return (folder / "config.json").is_file() and any((folder / name).is_file() for name in named)


def find_layout(folder: Path) -> DiffusersLayout:
    """The layout of a diffusers folder, or a ModelError saying which file is missing."""
    if (folder / "model_index.json").is_file():
        index = read_json(folder / "model_index.json")
        unet = index.get("unet")
        for latent in ("vae", "vqvae", "text_encoder"):
            if index.get(latent) is not None:
                raise ModelError(
                    f"{folder} is a latent or text-to-image pipeline (it has a {latent}); "
                    "the studio opens pixel-space UNet2DModel pipelines only."
                )
        if not isinstance(unet, list) or unet[-1:] != [UNET_CLASS]:
            raise ModelError(
                f"{folder / 'model_index.json'} names a {_shown(unet)} U-Net; only {UNET_CLASS} can be opened."
            )
        for sub in ("unet", "scheduler"):
            if not (folder / sub).is_dir():
                raise ModelError(f"The diffusers pipeline folder {folder} has no {sub}/ folder.")
        return DiffusersLayout(
            folder,
            "pipeline",
            folder / "unet" / "config.json",
            folder / "unet" / WEIGHTS,
            folder / "scheduler" / "scheduler_config.json",
        )
    return DiffusersLayout(folder, "flat", folder / "config.json", folder / WEIGHTS, folder / "scheduler_config.json")


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from ``path`` (size-limited), or a ModelError naming the file."""
    if not path.is_file():
        raise ModelError(f"The diffusers file {path} is missing.")
    try:
        if path.stat().st_size > MAX_JSON_BYTES:
            raise ModelError(f"{path} is too large to be a diffusers config ({path.stat().st_size} bytes).")
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise ModelError(f"{path} is not a readable JSON file ({_first_line(err)}).") from None
    if not isinstance(data, dict):
        raise ModelError(f"{path} should hold a JSON object, not {type(data).__name__}.")
    return data


# ---------------------------------------------------------------- the U-Net config


@dataclass(frozen=True)
class UNetFacts:
    image_size: int
    channels: int
    num_classes: int


def check_unet_config(config: dict[str, Any], path: Path) -> UNetFacts:
    """Check the keys the studio relies on before diffusers sees the config; facts for :class:`ModelInfo`."""
    cls = config.get("_class_name", UNET_CLASS)
    if cls != UNET_CLASS:
        raise ModelError(f"{path} describes a {_shown(cls)}; only {UNET_CLASS} (pixel-space U-Nets) can be opened.")
    size = config.get("sample_size", config.get("image_size"))
    if isinstance(size, list) and len(size) == 2 and size[0] == size[1]:
        size = size[0]
    side = _int(size, "sample_size", path, 4, MAX_SIDE)
    channels = _int(config.get("in_channels", 3), "in_channels", path, 1, 4)
    out = _int(config.get("out_channels", 3), "out_channels", path, 1, 8)
    if out != channels:
        raise ModelError(
            f"{path} has out_channels {out} for in_channels {channels}: a learned-variance U-Net, which the "
            "studio cannot open (it needs one noise prediction per input channel)."
        )
    blocks = config.get("block_out_channels", (224, 448, 672, 896))
    if not isinstance(blocks, list | tuple) or not 1 <= len(blocks) <= MAX_BLOCKS:
        raise ModelError(f'{path} has an unusable "block_out_channels" (a list of 1 to {MAX_BLOCKS} numbers).')
    for value in blocks:
        _int(value, "block_out_channels", path, 1, MAX_CHANNELS)
    for key in ("down_block_types", "up_block_types"):
        types = config.get(key)
        if types is not None and (
            not isinstance(types, list | tuple)
            or len(types) != len(blocks)
            or not all(isinstance(t, str) for t in types)
        ):
            raise ModelError(f'{path} has an unusable "{key}" (one block name per entry of block_out_channels).')
    _int(config.get("layers_per_block", 2), "layers_per_block", path, 1, 16)
    time_embedding = config.get("time_embedding_type", "positional")
    if time_embedding != "positional":
        raise ModelError(
            f"{path} has time_embedding_type {_shown(time_embedding)} (a score-SDE model of continuous noise "
            "levels); the studio opens DDPM-style U-Nets with positional timestep embeddings."
        )
    if config.get("class_embed_type") is not None:
        raise ModelError(
            f"{path} has class_embed_type {_shown(config.get('class_embed_type'))}; the studio opens U-Nets whose "
            "classes are given by num_class_embeds only."
        )
    classes = config.get("num_class_embeds")
    num_classes = 0 if classes is None else _int(classes, "num_class_embeds", path, 1, 100_000)
    return UNetFacts(side, channels, num_classes)


# ---------------------------------------------------------------- the scheduler config


def schedule_and_defaults(config: dict[str, Any], path: Path) -> tuple[Schedule, SchedulerDefaults]:
    """Map a diffusers scheduler config (including the 2022 ``GaussianDDPMScheduler`` keys) onto the studio's.

    Keys: beta_schedule, beta_start, beta_end, num_train_timesteps (legacy: ``timesteps``), trained_betas,
    variance_type, clip_sample (legacy: ``clip_predicted_image``), clip_sample_range, prediction_type (absent:
    epsilon), timestep_spacing, steps_offset. A key of the wrong type or value is one ModelError sentence.
    """
    cls = config.get("_class_name", "DDPMScheduler")
    if not isinstance(cls, str) or not cls.endswith("Scheduler"):
        raise ModelError(f"{path} does not describe a scheduler (its _class_name is {_shown(cls)}).")
    config = {**CLASS_DEFAULTS.get(cls, {}), **{k: v for k, v in config.items() if v is not None}}
    notes: list[str] = []
    if config.get("rescale_betas_zero_snr"):
        raise ModelError(f"{path} asks for zero terminal SNR (beta_T = 1), which the studio's schedules exclude.")
    schedule = _schedule(config, path)
    variance_type = config.get("variance_type", "fixed_small")
    if variance_type not in VARIANCES:
        raise ModelError(
            f"{path} has variance_type {_shown(variance_type)}; the studio supports "
            f"{', '.join(VARIANCES)} (a learned variance needs a U-Net with twice the channels)."
        )
    clip = config.get("clip_sample", config.get("clip_predicted_image", True))
    if not isinstance(clip, bool):
        raise ModelError(f'{path} has "clip_sample" {_shown(clip)}; it should be true or false.')
    clip_range = _float(config.get("clip_sample_range", 1.0), "clip_sample_range", path, 1e-6, 1e6)
    prediction = config.get("prediction_type") or Prediction.EPSILON.value
    if prediction not in {p.value for p in Prediction}:
        raise ModelError(f"{path} has prediction_type {_shown(prediction)}; choose epsilon, sample or v_prediction.")
    spacing = config.get("timestep_spacing", "leading")
    if spacing not in SPACINGS:
        raise ModelError(f"{path} has timestep_spacing {_shown(spacing)}; choose one of {', '.join(SPACINGS)}.")
    offset = _int(config.get("steps_offset", 0), "steps_offset", path, 0, schedule.T - 1)
    if config.get("thresholding"):
        notes.append("dynamic thresholding is not applied: the studio clips x0 instead")
    sampler = SAMPLERS.get(cls, "ddpm")
    karras = config.get("use_karras_sigmas") is True and sampler in ("euler", "heun", "dpmpp_2m")
    if karras and spacing == "linspace":
        spacing = "karras"  # the studio's name for diffusers' default linspace with Karras sigmas
    notes.extend(unmatched_settings(cls, config))
    final = config.get("final_sigmas_type", "zero")
    if final not in ("zero", "sigma_min"):
        raise ModelError(f'{path} has "final_sigmas_type" {_shown(final)}; it should be "zero" or "sigma_min".')
    flags = {key: _bool(config.get(key, default), key, path) for key, default in FLAGS.items()}
    defaults = SchedulerDefaults(
        final_sigmas_type=final if sampler in ("euler", "dpmpp_2m") else "zero",
        **flags,
        sampler=sampler,
        variance=VARIANCES[variance_type],
        clip_x0=clip,
        clip_range=clip_range,
        spacing=spacing,
        karras=karras,
        steps_offset=offset,
        prediction=prediction,
        scheduler_class=cls,
        notes=tuple(notes),
    )
    return schedule, defaults


def _schedule(config: dict[str, Any], path: Path) -> Schedule:
    trained = config.get("trained_betas")
    try:
        if trained is not None:
            if not isinstance(trained, list) or not all(_is_number(b) for b in trained):
                raise ModelError(f'{path} has "trained_betas" that are not a list of numbers.')
            return make_schedule(betas=[float(b) for b in trained])
        key = "num_train_timesteps" if "num_train_timesteps" in config else "timesteps"
        T = _int(config.get(key, 1000), key, path, MIN_T, MAX_T)  # noqa: N806
        name = config.get("beta_schedule", "linear")
        if name not in BETA_SCHEDULES:
            raise ModelError(
                f"{path} has beta_schedule {_shown(name)}; the studio knows {', '.join(BETA_SCHEDULES)} "
                "and trained_betas."
            )
        start = _float(config.get("beta_start", 1e-4), "beta_start", path, 0.0, 1.0)
        end = _float(config.get("beta_end", 0.02), "beta_end", path, 0.0, 1.0)
        return make_schedule(BETA_SCHEDULES[name], T, start, end)
    except OptionError as err:
        raise ModelError(f"{path} gives an unusable noise schedule: {err}") from None


# ---------------------------------------------------------------- small checks


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _bool(value: Any, key: str, path: Path) -> bool:
    if not isinstance(value, bool):
        raise ModelError(f'{path} has "{key}" {_shown(value)}; it should be true or false.')
    return value


def _int(value: Any, key: str, path: Path, low: int, high: int) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ModelError(f'{path} has "{key}" {_shown(value)}; it should be a whole number from {low} to {high}.')
    return value


def _float(value: Any, key: str, path: Path, low: float, high: float) -> float:
    if not _is_number(value) or not low <= float(value) <= high:
        raise ModelError(f'{path} has "{key}" {_shown(value)}; it should be a number from {low:g} to {high:g}.')
    return float(value)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _first_line(err: BaseException) -> str:
    return (str(err).splitlines() or [type(err).__name__])[0][:200]


def plan_from_defaults(defaults: SchedulerDefaults, **settings: Any):
    """The :class:`SamplingPlan` a folder's scheduler config asks for; ``settings`` (steps, eta, seed...) add to it."""
    from diffusion_studio.core.plan import SamplingPlan

    return SamplingPlan(
        sampler=defaults.sampler,
        spacing=defaults.spacing,
        karras=defaults.karras,
        variance=defaults.variance,
        clip_x0=defaults.clip_x0,
        clip_range=defaults.clip_range,
        steps_offset=defaults.steps_offset,
        final_sigmas_type=defaults.final_sigmas_type,
        lower_order_final=defaults.lower_order_final,
        euler_at_final=defaults.euler_at_final,
        set_alpha_to_one=defaults.set_alpha_to_one,
        **settings,
    )


# settings of the sigma schedulers that the studio's samplers do not reproduce: (class, key, diffusers default)
UNMATCHED = (
    ("EulerDiscreteScheduler", "interpolation_type", "linear"),
    ("EulerDiscreteScheduler", "timestep_type", "discrete"),
    ("EulerDiscreteScheduler", "sigma_min", None),
    ("EulerDiscreteScheduler", "sigma_max", None),
    ("HeunDiscreteScheduler", "clip_sample", False),
    ("DPMSolverMultistepScheduler", "solver_order", 2),
    ("DPMSolverMultistepScheduler", "algorithm_type", "dpmsolver++"),
    ("DPMSolverMultistepScheduler", "solver_type", "midpoint"),
    ("DPMSolverMultistepScheduler", "lambda_min_clipped", -math.inf),
    ("DPMSolverMultistepScheduler", "use_lu_lambdas", False),
    ("DPMSolverMultistepScheduler", "use_flow_sigmas", False),
)
SIGMA_OPTIONS = ("use_exponential_sigmas", "use_beta_sigmas")


def unmatched_settings(cls: str, config: dict[str, Any]) -> list[str]:
    """One note per setting of the folder's scheduler that the studio's sampler does not reproduce."""
    notes = [
        f"{key} {_shown(config[key])} is not reproduced (the studio's {SAMPLERS[cls]} runs as {key} {_shown(default)})"
        for name, key, default in UNMATCHED
        if name == cls and key in config and config[key] != default
    ]
    notes += [f"{key} is not reproduced (the studio's sigma grids are Karras' or the spacing's)"
              for key in SIGMA_OPTIONS if cls in SAMPLERS and config.get(key) is True]
    return notes
