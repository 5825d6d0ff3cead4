"""Turn user choices (model name, schedule, image, sampler options) into a ready-to-run sampling job.

Shared by the command line and the desktop app; no Qt here. The request is turned into a plan once: guidance and
the SDEdit strength are set with ``dataclasses.replace`` (no re-packing), and the timesteps are computed once and
kept on the :class:`PreparedRun` for every later reader (the recorder, the stream, the window's timeline).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from diffusion_studio.core.plan import SamplingPlan
from diffusion_studio.core.samplers import Guidance
from diffusion_studio.core.schedules import Schedule, make_schedule
from diffusion_studio.errors import OptionError
from diffusion_studio.models.base import ModelInfo, NoisePredictor
from diffusion_studio.models.diffusers_defaults import with_folder_settings
from diffusion_studio.models.registry import load_classifier, load_model
from diffusion_studio.session.devices import choose_device

DEFAULT_CLOSED_FORM_SIZE = 64  # side of a pure-noise start for the closed-form models
DEFAULT_SCHEDULE = ("linear", 1000)


resolve_device = choose_device  # the old name, kept for callers of diffusion_studio.runs


def parse_class(info: ModelInfo, text: str | int | None) -> int | None:
    """A class given by index or by name (case-insensitive); None when no class is asked for."""
    if text is None or text == "":
        return None
    if not info.class_names:
        raise OptionError(f"The model '{info.name}' has no classes, so --class cannot apply.")
    names = [n.lower() for n in info.class_names]
    key = str(text).strip().lower()
    if key in names:
        return names.index(key)
    if key.lstrip("-").isdigit() and 0 <= int(key) < len(names):
        return int(key)
    raise OptionError(
        f"'{text}' is not a class of '{info.name}'; its classes are {', '.join(info.class_names)}."
    )


@dataclass(frozen=True)
class RunRequest:
    """What a person chose. ``schedule``/``T``/``size`` apply to closed-form models only."""

    model: str = "ideal"
    schedule: str | None = None
    T: int | None = None  # noqa: N815
    size: int | None = None
    init_image: Path | None = None
    init_array: np.ndarray | None = field(default=None, compare=False)  # an already loaded uint8 image
    class_label: str | int | None = None
    cfg_scale: float = 1.0
    classifier_scale: float = 0.0
    plan: SamplingPlan = SamplingPlan()
    device: str = "auto"


@dataclass
class PreparedRun:
    """A checked plan with its model, schedule and start picture; ``timesteps`` is computed once, here."""

    model: NoisePredictor
    schedule: Schedule
    shape: tuple[int, int, int]
    init: torch.Tensor | None
    init_uint8: np.ndarray | None
    plan: SamplingPlan
    device: torch.device
    timesteps: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.timesteps:
            self.timesteps = self.plan.timesteps(self.schedule)


def _schedule_for(info: ModelInfo, req: RunRequest) -> Schedule:
    trained = info.training_schedule()
    if trained is None:
        kind, T = req.schedule or DEFAULT_SCHEDULE[0], req.T or DEFAULT_SCHEDULE[1]  # noqa: N806
        return make_schedule(kind, T)
    asked = req.schedule is not None or req.T is not None
    if asked and (req.schedule not in (None, trained.kind) or req.T not in (None, trained.T)):
        raise OptionError(
            f"The '{info.name}' model was trained with the {trained.describe()} schedule; "
            "a different schedule applies only to the closed-form models."
        )
    return trained


def _load_init(req: RunRequest, info: ModelInfo) -> np.ndarray | None:
    from diffusion_studio.io.images import load_image

    channels = info.channels or 3
    if req.init_array is not None:
        arr = req.init_array
        if arr.shape[2] != channels:
            arr = (
                arr.mean(axis=2, keepdims=True).astype(np.uint8)
                if channels == 1
                else np.repeat(arr, 3, axis=2)
            )
        if info.image_size is not None and arr.shape[:2] != (info.image_size, info.image_size):
            from PIL import Image

            im = Image.fromarray(arr.squeeze(-1) if arr.shape[2] == 1 else arr)
            arr = np.asarray(im.resize((info.image_size, info.image_size), Image.Resampling.LANCZOS))
            arr = arr[..., None] if arr.ndim == 2 else arr
        return arr
    if req.init_image is None:
        return None
    if info.image_size is not None:
        return load_image(req.init_image, size=info.image_size, mode="crop", channels=channels)
    return load_image(req.init_image, size=req.size or 128, mode="fit", channels=channels)


def prepare_run(req: RunRequest) -> PreparedRun:
    """Load the model (and classifier), build the schedule, load the init image and check the plan."""
    init_arr = None
    closed_extra = ()
    from diffusion_studio.models.registry import is_closed_form

    if is_closed_form(req.model) and (req.init_image is not None or req.init_array is not None):
        from diffusion_studio.models.closed_form import ideal_info

        init_arr = _load_init(req, ideal_info())
        name = Path(req.init_image).stem if req.init_image is not None else "your image"
        closed_extra = ((name, init_arr),)
    model = load_model(req.model, extra_references=closed_extra)
    info = model.info
    if init_arr is None:
        init_arr = _load_init(req, info)
    sched = _schedule_for(info, req)
    if info.image_size is not None:
        if req.size not in (None, info.image_size):
            raise OptionError(
                f"The '{info.name}' model makes {info.image_size}x{info.image_size} images only."
            )
        shape = (info.channels or 3, info.image_size, info.image_size)
    elif init_arr is not None:
        shape = (init_arr.shape[2], init_arr.shape[0], init_arr.shape[1])
    else:
        side = req.size or DEFAULT_CLOSED_FORM_SIZE
        shape = (3, side, side)
    label = parse_class(info, req.class_label)
    classifier = None
    if req.classifier_scale != 0:
        if label is None:
            raise OptionError("Classifier guidance needs a class (--class).")
        classifier = load_classifier(req.model)
        if classifier is None:
            raise OptionError(
                f"The '{info.name}' model has no noise-aware classifier for classifier guidance."
            )
    if req.cfg_scale != 1.0 and label is None:
        raise OptionError("Classifier-free guidance needs a class (--class).")
    device = choose_device(req.device)
    model = model.to(device)
    if classifier is not None:
        classifier = classifier.to(device)
    guidance = Guidance(label, info.null_class, req.cfg_scale, classifier, req.classifier_scale)
    strength = req.plan.strength if init_arr is not None else None
    if req.plan.strength is not None and init_arr is None:
        raise OptionError("--strength needs an image to start from (--init).")
    plan = with_folder_settings(replace(req.plan, guidance=guidance, strength=strength), info).checked(sched)
    init = None
    if init_arr is not None:
        from diffusion_studio.io.images import image_to_tensor

        init = image_to_tensor(init_arr)[None]
    return PreparedRun(model, sched, shape, init, init_arr, plan, device, plan.timesteps(sched))
