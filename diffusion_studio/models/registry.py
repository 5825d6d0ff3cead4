"""Find models by name or folder: the closed-form ones, the built-in trained ones, and any model folder."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np

from diffusion_studio.errors import ModelError
from diffusion_studio.models.base import ModelInfo, NoisePredictor
from diffusion_studio.paths import builtin_models_dir, sample_images

CLOSED_FORM = ("ideal", "gaussian")
REFERENCE_SIZE = 256  # bundled reference photos are centre-cropped to this; they are resized to x_t on use


@cache
def _bundled_references() -> tuple[tuple[str, np.ndarray], ...]:
    from diffusion_studio.io.images import load_image

    return tuple((p.stem, load_image(p, size=REFERENCE_SIZE, mode="crop")) for p in sample_images())


def _trained_folders() -> dict[str, Path]:
    root = builtin_models_dir()
    if not root.is_dir():
        return {}
    return {p.name: p for p in sorted(root.iterdir()) if (p / "model.json").is_file()}


def builtin_names() -> list[str]:
    """Names accepted by :func:`load_model` besides a folder path."""
    return [*CLOSED_FORM, *_trained_folders()]


def is_closed_form(name: str) -> bool:
    return name in CLOSED_FORM


def load_model(
    name_or_path: str | Path, extra_references: Sequence[tuple[str, np.ndarray]] = ()
) -> NoisePredictor:
    """A model by name (``ideal``, ``gaussian``, ``digits``, ``emoji``...) or by the path of a model folder.

    ``extra_references`` (name, uint8 image) join the bundled photos as references of the closed-form models,
    so that "noise my own image, then denoise it back" works with no trained model.
    """
    name = str(name_or_path)
    if name in CLOSED_FORM:
        from diffusion_studio.models.closed_form import GaussianDenoiser, IdealDenoiser

        refs = [*extra_references, *_bundled_references()]
        images = [im for _, im in refs]
        if name == "ideal":
            return IdealDenoiser(images, [n for n, _ in refs])
        return GaussianDenoiser(images)
    folder = _trained_folders().get(name)
    if folder is not None:
        return _load_builtin(folder)
    candidate = Path(name).expanduser()
    diffusers_model = _open_diffusers(name, candidate)  # a diffusers folder, or ORG/NAME in the HF cache
    if diffusers_model is not None:
        return diffusers_model
    if not candidate.is_dir():
        known = ", ".join(builtin_names())
        raise ModelError(f"There is no model called '{name}'; choose one of {known}, or give a model folder.")
    from diffusion_studio.models.trained import load_trained

    return load_trained(candidate)


def _open_diffusers(name: str, candidate: Path) -> NoisePredictor | None:
    """A diffusers UNet2DModel folder (flat or pipeline layout), or ``ORG/NAME`` from the local HF cache."""
    from diffusion_studio.models import diffusers_cache, diffusers_config
    from diffusion_studio.models.diffusers_folder import load_diffusers_folder

    if not candidate.is_dir() and diffusers_cache.looks_like_repo_id(name):
        snapshot = diffusers_cache.resolve_repo(name)
        origin = f"Hugging Face cache: {name} (revision {snapshot.name[:12]})"
        return load_diffusers_folder(snapshot, name=name, origin=origin)
    if candidate.is_dir() and diffusers_config.is_diffusers_folder(candidate):
        return load_diffusers_folder(candidate)
    from diffusion_studio.models.diffusers_folder import is_studio_unet2d, load_studio_unet2d

    if candidate.is_dir() and is_studio_unet2d(candidate):  # train --arch unet2d
        return load_studio_unet2d(candidate)
    return None


def has_classifier(name_or_path: str | Path) -> bool:
    """Whether a noise-aware classifier (for classifier guidance) ships beside the model."""
    name = str(name_or_path)
    if name in CLOSED_FORM:
        return False
    folder = _trained_folders().get(name) or Path(name).expanduser()
    return (folder / "classifier.json").is_file() and (folder / "classifier.safetensors").is_file()


def _load_builtin(folder: Path) -> NoisePredictor:
    from diffusion_studio.models.trained import load_trained
    from diffusion_studio.models.weights import read_meta

    training = read_meta(folder, "model").get("training") or {}
    steps = training.get("steps")
    origin = f"built-in, trained here on {training.get('data', 'its data')}" + (f" ({steps} steps)" if steps else "")
    return load_trained(folder, origin=origin)


def load_classifier(name_or_path: str | Path):
    """The noise-aware classifier shipped beside a trained model (for classifier guidance), or None."""
    name = str(name_or_path)
    if name in CLOSED_FORM:
        return None
    folder = _trained_folders().get(name) or Path(name).expanduser()
    from diffusion_studio.models.classifier import load_classifier as _load

    return _load(folder)


def describe_models() -> list[ModelInfo]:
    """ModelInfo of every available model (closed-form ones without loading the reference photos)."""
    from diffusion_studio.models.closed_form import gaussian_info, ideal_info

    infos = [ideal_info(), gaussian_info()]
    for folder in _trained_folders().values():
        try:
            infos.append(_load_builtin(folder).info)
        except ModelError as err:
            infos.append(
                ModelInfo(name=folder.name, image_size=None, channels=None, origin=f"unusable: {err}")
            )
    return infos
