"""``train --arch unet2d``: the studio's loop (DDPM Algorithm 1) training a diffusers ``UNet2DModel``.

The result is a studio model folder (``model.json`` with architecture ``diffusers-UNet2DModel`` and the U-Net's
diffusers config, ``model.safetensors`` with its diffusers state dict), which the studio opens like its own models
and ``diffusion-studio export-diffusers`` writes as a folder that ``DDPMPipeline.from_pretrained`` loads.
A class-conditional U-Net gets ``num_class_embeds`` = classes + 1: the last label is the null class of
classifier-free guidance.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import torch
from torch import nn

from diffusion_studio.core.schedules import make_schedule
from diffusion_studio.models.diffusers_folder import ARCHITECTURE, import_diffusers

# ~1.0M parameters at width 32: an attention level at the lowest resolution, as google/ddpm-cifar10-32 has
PRESET = {"widths": (1, 2, 2), "layers_per_block": 1, "attention_at": 1}


def unet2d_config(size: int, channels: int, num_classes: int, width: int = 32, dropout: float = 0.0) -> dict:
    """A UNet2DModel config: ``width`` x (1, 2, 2) channels, attention at the middle level, groups of 8."""
    widths = [width * m for m in PRESET["widths"]]
    down = ["AttnDownBlock2D" if i == PRESET["attention_at"] else "DownBlock2D" for i in range(len(widths))]
    up = ["AttnUpBlock2D" if name.startswith("Attn") else "UpBlock2D" for name in reversed(down)]
    return {
        "sample_size": size,
        "in_channels": channels,
        "out_channels": channels,
        "block_out_channels": widths,
        "down_block_types": down,
        "up_block_types": up,
        "layers_per_block": PRESET["layers_per_block"],
        "norm_num_groups": 8,
        "attention_head_dim": 8,
        "dropout": dropout,
        "num_class_embeds": num_classes + 1 if num_classes else None,
    }


class UNet2DNet(nn.Module):
    """net(x_t, t, y) -> eps for the training loop and the sample sheet; ``unet`` is the diffusers model."""

    def __init__(self, config: dict) -> None:
        super().__init__()
        self.unet = import_diffusers().UNet2DModel.from_config(config)
        classes = config.get("num_class_embeds")
        self.config = SimpleNamespace(num_classes=classes - 1 if classes else 0, in_channels=config["in_channels"])

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.unet(x_t, t, class_labels=y, return_dict=False)[0]


def train_unet2d(args, data, out: Path, cfg, device, notice) -> int:
    """The ``_train_unet`` of training/command.py for ``--arch unet2d``: same loop, loss, sheet and folder."""
    from diffusion_studio.training import command
    from diffusion_studio.training.distributed import is_main_process
    from diffusion_studio.training.loop import train
    from diffusion_studio.training.objectives import eps_loss

    schedule = make_schedule(args.schedule, args.T)
    config = unet2d_config(data.size, data.channels, len(data.class_names), args.width or 32, args.dropout)
    net = UNet2DNet(config)
    name = args.name or out.name
    command._announce(name, net, data, device, " (diffusers UNet2DModel)")
    sheet = command._sheet_writer(out, schedule, data.size)

    null = net.config.num_classes
    result = train(
        net,
        lambda n, x0, y, g, keep=None: eps_loss(n, schedule, x0, y, g, args.label_dropout, null, keep=keep),
        data,
        cfg,
        out / "checkpoints" / "unet",
        device,
        {**command._settings(args, data, config), "arch_kind": "unet2d"},
        args.resume,
        sheet,
    )
    if not is_main_process():
        return 0
    training = command._training_block(args, cfg, device, notice, result.step)
    save_unet2d_folder(out, result.ema.model.unet, config, data, schedule.spec(), name, training)
    command._write_notice(out, name, notice, result.step, training["date"])
    print(
        f"Wrote {out / 'model.safetensors'} (diffusers UNet2DModel, EMA weights after {result.step} steps, final "
        f"loss {result.losses[-1]:.4f}) and {out / 'samples.png'}; export it with: diffusion-studio "
        f"export-diffusers {out} OUT",
        file=sys.stderr,
    )
    return 0


def save_unet2d_folder(out: Path, unet: nn.Module, config: dict, data, schedule: dict, name: str, training: dict):
    """model.json + model.safetensors of a studio model folder holding a diffusers UNet2DModel."""
    from diffusion_studio.models.weights import MODEL_STEM, save_network

    meta = {
        "architecture": ARCHITECTURE,
        "name": name,
        "config": config,
        "image_size": data.size,
        "channels": data.channels,
        "schedule": schedule,
        "prediction": "epsilon",
        "class_names": list(data.class_names),
        "training": training,
    }
    return save_network(out, MODEL_STEM, unet, meta)
