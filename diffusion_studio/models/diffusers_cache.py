"""Find ``ORG/NAME`` in the local Hugging Face cache, offline: read folders, never the network.

The cache is ``$HF_HUB_CACHE``, else ``$HF_HOME/hub``, else ``$XDG_CACHE_HOME/huggingface/hub``, else
``~/.cache/huggingface/hub``, as huggingface_hub lays it out::

    models--ORG--NAME/refs/main            the revision (commit hash) that main names
    models--ORG--NAME/snapshots/<rev>/...  the files of that revision (links into blobs/)

The snapshot that ``refs/main`` names is used, else the newest one.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from diffusion_studio.errors import ModelError
from diffusion_studio.models.diffusers_config import (
    check_unet_config,
    find_layout,
    is_diffusers_folder,
    read_json,
)

REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$")


def hub_cache_dir() -> Path:
    """The Hugging Face hub cache folder, from the same variables huggingface_hub reads."""
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(var):
            return Path(os.environ[var]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg).expanduser() / "huggingface" / "hub"


def looks_like_repo_id(text: str) -> bool:
    """``ORG/NAME`` as the hub spells repository ids (no ``..``, no leading ``/`` or ``~``)."""
    return bool(REPO_ID.match(text)) and ".." not in text


def snapshot_folder(repo_id: str, cache: Path | None = None) -> Path | None:
    """The cached snapshot of ``repo_id`` (the one refs/main names, else the newest), or None."""
    if not looks_like_repo_id(repo_id):
        return None
    org, name = repo_id.split("/")
    repo = (cache or hub_cache_dir()) / f"models--{org}--{name}"
    return _snapshot_of(repo)


def _snapshot_of(repo: Path) -> Path | None:
    snapshots = repo / "snapshots"
    if not snapshots.is_dir():
        return None
    try:
        rev = (repo / "refs" / "main").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        rev = ""
    if rev and re.fullmatch(r"[0-9a-fA-F]{6,64}", rev) and (snapshots / rev).is_dir():
        return snapshots / rev
    candidates = [p for p in snapshots.iterdir() if p.is_dir()]
    return max(candidates, key=lambda p: p.stat().st_mtime) if candidates else None


def resolve_repo(repo_id: str) -> Path:
    """The cached diffusers folder of ``repo_id``, or a ModelError saying how to get it (the studio never downloads)."""
    cache = hub_cache_dir()
    folder = snapshot_folder(repo_id, cache)
    if folder is None:
        raise ModelError(
            f"'{repo_id}' is neither a folder nor in the Hugging Face cache {cache}; the studio works offline, "
            f"so download it first (e.g. huggingface-cli download {repo_id}) or give its folder."
        )
    if not is_diffusers_folder(folder):
        raise ModelError(f"The cached '{repo_id}' ({folder}) is not a diffusers model folder.")
    return folder


@dataclass(frozen=True)
class CachedModel:
    """One diffusers model found in the cache, described from its JSON files alone (nothing is loaded)."""

    repo_id: str
    folder: Path
    weight_bytes: int  # 0 when only pickled weights are there
    image_size: int | None
    channels: int | None
    note: str = ""  # why it cannot be opened as is, if so


def cached_models(cache: Path | None = None) -> list[CachedModel]:
    """Every diffusers UNet2DModel repository in the cache, sorted by id."""
    cache = cache or hub_cache_dir()
    if not cache.is_dir():
        return []
    found = []
    for repo in sorted(cache.glob("models--*--*")):
        parts = repo.name.split("--", 2)
        folder = _snapshot_of(repo)
        if len(parts) != 3 or folder is None or not is_diffusers_folder(folder):
            continue
        found.append(_describe(f"{parts[1]}/{parts[2]}", folder))
    return found


def _describe(repo_id: str, folder: Path) -> CachedModel:
    try:
        layout = find_layout(folder)
        facts = check_unet_config(read_json(layout.unet_config), layout.unet_config)
    except ModelError as err:
        return CachedModel(repo_id, folder, 0, None, None, note=str(err))
    if layout.weights.is_file():
        return CachedModel(repo_id, folder, layout.weights.stat().st_size, facts.image_size, facts.channels)
    note = "no weights"
    if layout.pickled.is_file():
        note = f"pickled weights only: run diffusion-studio convert-weights {folder}"
    return CachedModel(repo_id, folder, 0, facts.image_size, facts.channels, note=note)


def cached_model_lines(cache: Path | None = None) -> list[str]:
    """Lines for ``diffusion-studio models``: id, image size, weight size, and a note where needed."""
    cache = cache or hub_cache_dir()
    models = cached_models(cache)
    if not models:
        return []
    lines = [f"diffusers models in the Hugging Face cache ({cache}); open with --model ORG/NAME:"]
    for m in models:
        size = f"{m.image_size}x{m.image_size}" if m.image_size else "?"
        channels = {1: "grey", 3: "RGB"}.get(m.channels or 0, str(m.channels))
        weight = f"{m.weight_bytes / 1e6:.1f} MB" if m.weight_bytes else "-"
        lines.append(f"  {m.repo_id:<36} {size:<9} {channels:<5} {weight:>10}" + (f"  ({m.note})" if m.note else ""))
    return lines
