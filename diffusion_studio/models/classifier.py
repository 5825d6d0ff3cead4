"""A small noise-aware classifier p(y | x_t, t) for classifier guidance (Dhariwal & Nichol 2021, sec. 4).

Guidance shifts each reverse step by s * grad_{x_t} log p(y | x_t, t) (their Algorithms 1 and 2), so the
classifier must see noisy images at every t of the model's schedule and be differentiable w.r.t. x_t.
Architecture: the encoder half of :class:`~diffusion_studio.models.unet.UNet` (residual blocks with the
sinusoidal time embedding, stride-2 downsampling), then GroupNorm -> SiLU -> global average pool -> linear.

Stored beside the U-Net in the same model folder as ``classifier.safetensors`` + ``classifier.json``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812 - the usual name
from torch import nn

from diffusion_studio.core.schedules import Schedule, schedule_from_spec
from diffusion_studio.errors import ModelError, OptionError
from diffusion_studio.models.trained import training_timesteps
from diffusion_studio.models.unet import Downsample, ResBlock, norm, timestep_embedding
from diffusion_studio.models.weights import (
    CLASSIFIER_STEM,
    check_config_sizes,
    check_weight_shapes,
    load_network,
    meta_field,
    read_meta,
    save_network,
)

CLASSIFIER_ARCHITECTURE = "noisy-classifier-v1"


@dataclass(frozen=True)
class ClassifierConfig:
    in_channels: int = 1
    num_classes: int = 10
    base_channels: int = 32
    channel_mults: tuple[int, ...] = (1, 2, 2)
    num_res_blocks: int = 1
    dropout: float = 0.0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["channel_mults"] = list(self.channel_mults)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ClassifierConfig:
        unknown = set(d) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown classifier settings {sorted(unknown)}")
        d = dict(d)
        if "channel_mults" in d:
            d["channel_mults"] = tuple(int(m) for m in d["channel_mults"])
        cfg = cls(**d)
        if cfg.num_classes < 2 or cfg.in_channels < 1 or cfg.base_channels < 4 or not cfg.channel_mults:
            raise ValueError("classifier sizes out of range")
        return cfg


class NoisyClassifier(nn.Module):
    """logits(x_t, t) -> (B, num_classes); carries ``class_names`` and the training ``schedule`` spec."""

    def __init__(
        self, config: ClassifierConfig, class_names: tuple[str, ...] = (), schedule: dict | None = None
    ) -> None:
        super().__init__()
        self.config = config
        self.class_names = tuple(class_names) or tuple(str(i) for i in range(config.num_classes))
        self.schedule = schedule
        self._trained_on = schedule_from_spec(schedule) if schedule is not None else None
        ch = config.base_channels
        emb_dim = 4 * ch
        self.time_mlp = nn.Sequential(nn.Linear(ch, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.conv_in = nn.Conv2d(config.in_channels, ch, 3, padding=1)
        self.blocks = nn.ModuleList()
        cur = ch
        for level, mult in enumerate(config.channel_mults):
            for _ in range(config.num_res_blocks):
                self.blocks.append(ResBlock(cur, ch * mult, emb_dim, config.dropout))
                cur = ch * mult
            if level != len(config.channel_mults) - 1:
                self.blocks.append(Downsample(cur))
        self.norm_out = norm(cur)
        self.head = nn.Linear(cur, config.num_classes)

    def forward(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        t = t.reshape(-1).expand(x_t.shape[0]) if t.numel() == 1 else t
        emb = self.time_mlp(timestep_embedding(t, self.config.base_channels))
        h = self.conv_in(x_t)
        for block in self.blocks:
            h = block(h, emb) if isinstance(block, ResBlock) else block(h)
        return self.head(F.silu(self.norm_out(h)).mean(dim=(2, 3)))

    def logits(self, x_t: torch.Tensor, t: torch.Tensor, schedule: Schedule | None = None) -> torch.Tensor:
        """Logits at noise level t, differentiable w.r.t. ``x_t``; t is mapped if ``schedule`` differs."""
        t = torch.as_tensor(t, device=x_t.device).long().reshape(-1).expand(x_t.shape[0])
        if schedule is not None and self._trained_on is not None:
            t = training_timesteps(t, schedule, self._trained_on)
        dtype = next(self.parameters()).dtype
        return self.forward(x_t.to(dtype), t).to(x_t.dtype)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device


def classifier_meta(clf: NoisyClassifier, *, image_size: int, training: dict[str, Any] | None = None) -> dict:
    return {
        "architecture": CLASSIFIER_ARCHITECTURE,
        "config": clf.config.to_dict(),
        "image_size": int(image_size),
        "channels": clf.config.in_channels,
        "schedule": clf.schedule,
        "class_names": list(clf.class_names),
        "training": training or {},
    }


def save_classifier(folder: str | Path, clf: NoisyClassifier, meta: dict[str, Any]) -> Path:
    """Write ``classifier.safetensors`` + ``classifier.json`` into the model folder."""
    return save_network(folder, CLASSIFIER_STEM, clf, meta)


def load_classifier(model_folder: str | Path) -> NoisyClassifier | None:
    """The classifier stored in a model folder (eval mode, CPU), or None when the folder has none."""
    folder = Path(model_folder)
    has_json = (folder / f"{CLASSIFIER_STEM}.json").is_file()
    has_weights = (folder / f"{CLASSIFIER_STEM}.safetensors").is_file()
    if not has_json and not has_weights:
        if not folder.is_dir():
            raise ModelError(f"The model folder {folder} does not exist.")
        return None
    meta = read_meta(folder, CLASSIFIER_STEM, CLASSIFIER_ARCHITECTURE)
    path = str(folder / f"{CLASSIFIER_STEM}.json")
    try:
        config = ClassifierConfig.from_dict(meta_field(meta, "config", dict, path))
        schedule = meta.get("schedule")
        names = tuple(meta.get("class_names", ()))
        check_config_sizes(config, path)
        check_weight_shapes(folder, CLASSIFIER_STEM, lambda: NoisyClassifier(config, names, schedule))
        clf = NoisyClassifier(config, names, schedule)
    except (TypeError, ValueError, KeyError, OptionError) as err:
        raise ModelError(f'{path} has an unusable "config" or "schedule" ({err}).') from None
    if len(clf.class_names) != config.num_classes:
        raise ModelError(f"{path} lists {len(clf.class_names)} class names for {config.num_classes} classes.")
    load_network(folder, CLASSIFIER_STEM, clf)
    return clf.eval()
