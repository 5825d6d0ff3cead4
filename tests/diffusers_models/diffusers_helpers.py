"""Randomly initialised diffusers U-Nets saved the way diffusers writes them (flat and pipeline layouts)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

CIFAR_CONFIG = {  # the shape of google/ddpm-cifar10-32 (35.7M parameters)
    "sample_size": 32,
    "in_channels": 3,
    "out_channels": 3,
    "block_out_channels": (128, 256, 256, 256),
    "down_block_types": ("DownBlock2D", "AttnDownBlock2D", "DownBlock2D", "DownBlock2D"),
    "up_block_types": ("UpBlock2D", "UpBlock2D", "AttnUpBlock2D", "UpBlock2D"),
    "layers_per_block": 2,
    "freq_shift": 1,
    "flip_sin_to_cos": False,
    "downsample_padding": 0,
    "norm_eps": 1e-6,
}
TINY_CONFIG = {
    "sample_size": 8,
    "in_channels": 3,
    "out_channels": 3,
    "block_out_channels": (8, 16),
    "down_block_types": ("DownBlock2D", "AttnDownBlock2D"),
    "up_block_types": ("AttnUpBlock2D", "UpBlock2D"),
    "layers_per_block": 1,
    "norm_num_groups": 4,
}


def make_unet(config: dict | None = None, seed: int = 0, **overrides):
    """A UNet2DModel with random weights (scaled up a little so that its output is not nearly zero)."""
    import diffusers

    torch.manual_seed(seed)
    return diffusers.UNet2DModel(**{**(config or TINY_CONFIG), **overrides}).eval()


def save_flat(folder: Path, unet, scheduler) -> Path:
    """config.json + diffusion_pytorch_model.safetensors + scheduler_config.json, as the google/ddpm-* repos."""
    unet.save_pretrained(folder, safe_serialization=True)
    scheduler.save_pretrained(folder)
    return folder


def save_pipeline(folder: Path, unet, scheduler) -> Path:
    """model_index.json, unet/, scheduler/: what DDPMPipeline.save_pretrained writes."""
    import diffusers

    diffusers.DDPMPipeline(unet=unet, scheduler=scheduler).save_pretrained(folder, safe_serialization=True)
    return folder


def write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data), encoding="utf-8")


def read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))
