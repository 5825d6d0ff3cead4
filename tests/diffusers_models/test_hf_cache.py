"""ORG/NAME from a fake local Hugging Face cache (refs/main, else the newest snapshot); never the network."""

from __future__ import annotations

import os
import time
from pathlib import Path

import diffusers
import pytest
import torch
from diffusers_helpers import make_unet, save_flat, save_pipeline

from diffusion_studio.cli import main
from diffusion_studio.errors import ModelError
from diffusion_studio.models.diffusers_cache import hub_cache_dir, snapshot_folder
from diffusion_studio.models.registry import load_model


def _cache_repo(cache: Path, repo_id: str, rev: str, save, unet, main_ref: bool = True) -> Path:
    """Lay a snapshot out as huggingface_hub does: files in blobs/, links to them in snapshots/<rev>/."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    staged = save(repo / "staging" / rev, unet, diffusers.DDPMScheduler(variance_type="fixed_large"))
    snapshot = repo / "snapshots" / rev
    for file in sorted(p for p in staged.rglob("*") if p.is_file()):
        blob = repo / "blobs" / f"{abs(hash((rev, str(file)))):x}"
        blob.parent.mkdir(parents=True, exist_ok=True)
        file.replace(blob)
        link = snapshot / file.relative_to(staged)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    if main_ref:
        (repo / "refs").mkdir(exist_ok=True)
        (repo / "refs" / "main").write_text(rev, encoding="utf-8")
    return snapshot


def test_cache_folder_follows_the_hub_variables(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "a"))
    assert hub_cache_dir() == tmp_path / "a"
    monkeypatch.delenv("HF_HUB_CACHE")
    monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    assert hub_cache_dir() == tmp_path / "home" / "hub"
    monkeypatch.delenv("HF_HOME")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert hub_cache_dir() == tmp_path / "user" / ".cache" / "huggingface" / "hub"


def test_org_name_opens_the_snapshot_refs_main_names(offline_cache) -> None:
    unet = make_unet(seed=20)
    want = _cache_repo(offline_cache, "google/ddpm-tiny", "a" * 40, save_flat, unet)
    time.sleep(0.01)
    _cache_repo(offline_cache, "google/ddpm-tiny", "b" * 40, save_flat, make_unet(seed=21), main_ref=False)
    assert snapshot_folder("google/ddpm-tiny") == want  # refs/main wins over the newer snapshot
    model = load_model("google/ddpm-tiny")
    assert model.info.name == "google/ddpm-tiny" and "Hugging Face cache" in model.info.origin
    x = torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    t = torch.tensor([5])
    with torch.no_grad():
        torch.testing.assert_close(model.forward(x, t, model.info.training_schedule()), unet(x, t).sample)


def test_without_refs_main_the_newest_snapshot_is_used(offline_cache) -> None:
    _cache_repo(offline_cache, "me/pipe", "c" * 40, save_pipeline, make_unet(seed=22), main_ref=False)
    time.sleep(0.01)
    newest = _cache_repo(offline_cache, "me/pipe", "d" * 40, save_pipeline, make_unet(seed=23), main_ref=False)
    assert snapshot_folder("me/pipe") == newest
    assert load_model("me/pipe").info.extra["layout"] == "pipeline"


def test_a_repo_not_in_the_cache_is_one_line_and_no_download(offline_cache, monkeypatch, capsys) -> None:
    import huggingface_hub

    def no_network(*args, **kwargs):
        raise AssertionError("the studio tried to download")

    for name in ("hf_hub_download", "snapshot_download"):
        monkeypatch.setattr(huggingface_hub, name, no_network)
    with pytest.raises(ModelError, match="offline"):
        load_model("google/not-here")
    assert main(["sample", "--model", "google/not-here", "--quiet"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_models_command_lists_the_cache(offline_cache, capsys) -> None:
    _cache_repo(offline_cache, "google/ddpm-tiny", "e" * 40, save_flat, make_unet(seed=24))
    old = _cache_repo(offline_cache, "google/ddpm-old", "f" * 40, save_flat, make_unet(seed=25))
    torch.save({}, old / "diffusion_pytorch_model.bin")
    (old / "diffusion_pytorch_model.safetensors").unlink()
    (offline_cache / "models--someone--not-diffusers" / "snapshots" / "1234abcd").mkdir(parents=True)
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert str(offline_cache) in out
    tiny = next(line for line in out.splitlines() if "google/ddpm-tiny" in line)
    assert "8x8" in tiny and "MB" in tiny
    assert "convert-weights" in next(line for line in out.splitlines() if "google/ddpm-old" in line)
    assert "not-diffusers" not in out
