"""Write a studio model folder of a diffusers UNet2DModel (``train --arch unet2d``) as a diffusers pipeline folder.

The result (model_index.json, unet/, scheduler/) is what ``DDPMPipeline.save_pretrained`` writes, so
``DDPMPipeline.from_pretrained(OUT)`` loads it. The studio's schedule becomes the scheduler config: a named schedule
its beta_schedule (cosine = squaredcos_cap_v2), a custom one its trained_betas; the variance is fixed_small
(the studio's default beta~_t) and x0 clipping is on, as the studio samples.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from diffusion_studio.errors import ExportError, ModelError
from diffusion_studio.models.diffusers_folder import ARCHITECTURE, import_diffusers, is_studio_unet2d

BETA_SCHEDULE_NAMES = {
    "linear": "linear",
    "scaled_linear": "scaled_linear",
    "sigmoid": "sigmoid",
    "cosine": "squaredcos_cap_v2",
}


def scheduler_kwargs(spec: dict) -> dict:
    """DDPMScheduler arguments for a studio schedule spec (see :meth:`Schedule.spec`)."""
    common = {"variance_type": "fixed_small", "clip_sample": True, "prediction_type": "epsilon"}
    if spec.get("kind") == "custom":
        betas = list(spec["betas"])
        return {**common, "num_train_timesteps": len(betas), "trained_betas": betas}
    return {
        **common,
        "num_train_timesteps": int(spec["T"]),
        "beta_schedule": BETA_SCHEDULE_NAMES[spec["kind"]],
        "beta_start": float(spec["beta_start"]),
        "beta_end": float(spec["beta_end"]),
    }


def export_diffusers(model_folder: str | Path, out: str | Path) -> Path:
    """Write ``out`` (which must not exist yet, or be an empty folder); it appears whole or not at all."""
    from diffusion_studio.models.diffusers_folder import load_studio_unet2d

    model_folder, out = Path(model_folder).expanduser(), Path(out).expanduser()
    if not (model_folder / "model.json").is_file():
        raise ModelError(f"{model_folder} is not a studio model folder (it has no model.json).")
    if not is_studio_unet2d(model_folder):
        raise ModelError(
            f"{model_folder} does not hold a diffusers UNet2DModel ({ARCHITECTURE}); only models trained with "
            "train --arch unet2d can be exported."
        )
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ExportError(f"{out} already exists; choose a new folder so that nothing is overwritten.")
    if not out.parent.is_dir():
        raise ExportError(f"Could not write '{out}': the folder '{out.parent}' does not exist.")
    model = load_studio_unet2d(model_folder)
    diffusers = import_diffusers()
    scheduler = diffusers.DDPMScheduler(**scheduler_kwargs(model.info.schedule))
    pipeline = diffusers.DDPMPipeline(unet=model.net, scheduler=scheduler)
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    except OSError as err:
        raise ExportError(f"Could not write '{out}': {err.strerror or err}.") from None
    try:
        pipeline.save_pretrained(staging, safe_serialization=True)
        if out.is_dir():
            out.rmdir()  # empty, checked above
        staging.rename(out)
    except OSError as err:
        raise ExportError(f"Could not write '{out}': {err.strerror or err}.") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out
