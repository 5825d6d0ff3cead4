"""``diffusion-studio convert-weights PATH``: turn a diffusers folder's pickled ``.bin`` weights into safetensors.

The ``.bin`` is read with torch's weights-only unpickler (``torch.load(..., weights_only=True)``), which builds
tensors and plain containers only and refuses any other object, so no code in the file can run. The tensors are
written beside it as ``diffusion_pytorch_model.safetensors``, atomically; the ``.bin`` is left as it was.
"""

from __future__ import annotations

import argparse
import pickle
import warnings
from pathlib import Path

from diffusion_studio.errors import ModelError
from diffusion_studio.models.diffusers_config import PICKLED_WEIGHTS, WEIGHTS, find_layout, is_diffusers_folder


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "path", help="a diffusers folder (flat or pipeline layout), its .bin file, or ORG/NAME in the HF cache"
    )


def run(args: argparse.Namespace) -> int:
    source = pickled_weights(args.path)
    target = source.with_name(WEIGHTS)
    if target.exists():
        print(f"{target} already exists; nothing to convert.")
        return 0
    count, size = convert(source, target)
    print(f"wrote {target} ({count} tensors, {size / 1e6:.1f} MB) from {source.name}; the .bin was left as it was.")
    return 0


def pickled_weights(path_text: str) -> Path:
    """The ``.bin`` to convert: the path itself, or the one a diffusers folder (or cached ORG/NAME) holds."""
    path = Path(path_text).expanduser()
    if path.is_file():
        if path.suffix != ".bin":
            raise ModelError(f"{path} is not a pickled .bin weights file.")
        return path
    if not path.is_dir():
        from diffusion_studio.models.diffusers_cache import looks_like_repo_id, snapshot_folder

        snapshot = snapshot_folder(path_text) if looks_like_repo_id(path_text) else None
        if snapshot is None:
            raise ModelError(f"There is no folder or file {path} to convert.")
        path = snapshot
    if not is_diffusers_folder(path):
        raise ModelError(
            f"{path} is not a diffusers folder (no model_index.json, or no config.json and scheduler_config.json)."
        )
    source = find_layout(path).pickled
    if not source.is_file():
        raise ModelError(f"{path} has no {PICKLED_WEIGHTS} to convert.")
    return source


def convert(source: Path, target: Path) -> tuple[int, int]:
    """Read ``source`` with the weights-only unpickler, write ``target`` (safetensors, atomic); (tensors, bytes)."""
    import torch

    from diffusion_studio.models.weights import write_tensors

    try:
        with warnings.catch_warnings():  # e.g. "Detected pickle protocol 4": not the person's business
            warnings.simplefilter("ignore")
            state = torch.load(source, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise ModelError(
            f"{source} holds pickled objects other than tensors, so the weights-only loader refused it and "
            "nothing in it ran; it cannot be converted."
        ) from None
    except (OSError, RuntimeError, EOFError, ValueError) as err:
        first = (str(err).splitlines() or [type(err).__name__])[0][:160]
        raise ModelError(f"{source} is not a readable PyTorch weights file ({first}).") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if (
        not isinstance(state, dict)
        or not state
        or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items())
    ):
        raise ModelError(f"{source} does not hold a dictionary of named tensors, so it cannot be converted.")
    write_tensors(target, state, {"format": "pt", "converted_from": source.name})
    return len(state), target.stat().st_size
