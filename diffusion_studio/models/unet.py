"""A small U-Net eps_theta(x_t, t, y) for 28x28 and 32x32 images.

The architecture follows Ho et al. 2020 (DDPM, appendix B), itself a PixelCNN++ / Wide-ResNet U-Net:
sinusoidal timestep embedding -> MLP, residual blocks GroupNorm -> SiLU -> conv with the embedding added
between the two convolutions, self-attention at the lowest resolution, skip connections by concatenation.
Class conditioning adds a learned class embedding to the time embedding; row ``num_classes`` is the learned
null class used for classifier-free guidance (Ho & Salimans 2022).

Downsampling is a stride-2 3x3 convolution and upsampling is nearest-neighbour to the size of the matching
skip connection followed by a 3x3 convolution, so odd sides work too (28 -> 14 -> 7 -> 4 and back).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn.functional as F  # noqa: N812 - the usual name
from torch import nn

ARCHITECTURE = "unet-v1"


@dataclass(frozen=True)
class UNetConfig:
    """Everything needed to rebuild a :class:`UNet` (stored in ``model.json``)."""

    in_channels: int = 3
    base_channels: int = 64
    channel_mults: tuple[int, ...] = (1, 2, 2)
    num_res_blocks: int = 1
    attention_at_lowest: bool = True
    num_classes: int = 0  # 0 = unconditional; else the embedding has num_classes + 1 rows (last = null class)
    dropout: float = 0.0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["channel_mults"] = list(self.channel_mults)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> UNetConfig:
        """Inverse of :meth:`to_dict`; raises ValueError / TypeError on unknown keys or bad values."""
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown U-Net settings {sorted(unknown)}")
        d = dict(d)
        if "channel_mults" in d:
            d["channel_mults"] = tuple(int(m) for m in d["channel_mults"])
        cfg = cls(**d)
        cfg.validate()
        return cfg

    def validate(self) -> None:
        ints = (
            self.in_channels,
            self.base_channels,
            self.num_res_blocks,
            self.num_classes,
            *self.channel_mults,
        )
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in ints):
            raise TypeError("U-Net sizes must be whole numbers")
        if self.in_channels < 1 or self.base_channels < 4 or self.num_res_blocks < 1 or self.num_classes < 0:
            raise ValueError("U-Net sizes out of range")
        if not self.channel_mults or min(self.channel_mults) < 1:
            raise ValueError("channel_mults must be a non-empty list of positive numbers")
        if not 0.0 <= float(self.dropout) < 1.0:
            raise ValueError("dropout must be in [0, 1)")


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding of (B,) timesteps (Vaswani et al. 2017, sec. 3.5; as in DDPM): (B, dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=1)
    return F.pad(emb, (0, 1)) if dim % 2 else emb


def norm(channels: int) -> nn.GroupNorm:
    """GroupNorm with groups of at least 4 channels (at most 32 groups, as in DDPM)."""
    groups = next(g for g in (32, 16, 8, 4, 2, 1) if channels % g == 0 and channels // g >= 4 or g == 1)
    return nn.GroupNorm(groups, channels)


class ResBlock(nn.Module):
    """h = conv(SiLU(GN(x))); h += Linear(SiLU(emb)); h = conv(dropout(SiLU(GN(h)))); return skip(x) + h."""

    def __init__(self, in_ch: int, out_ch: int, emb_dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.norm1 = norm(in_ch)
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.emb = nn.Linear(emb_dim, out_ch)
        self.norm2 = norm(out_ch)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)  # each block starts as the identity (Goyal et al. 2017 style)
        nn.init.zeros_(self.conv2.bias)
        self.skip = nn.Identity() if in_ch == out_ch else nn.Conv2d(in_ch, out_ch, 1)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.emb(F.silu(emb))[:, :, None, None]
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return self.skip(x) + h


class SelfAttention(nn.Module):
    """Single-head self-attention over the H*W positions with a residual connection (DDPM appendix B)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = norm(channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.proj = nn.Conv2d(channels, channels, 1)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(b, 3, c, h * w).transpose(-1, -2).unbind(1)
        out = F.scaled_dot_product_attention(q[:, None], k[:, None], v[:, None])[:, 0]
        return x + self.proj(out.transpose(-1, -2).reshape(b, c, h, w))


class Downsample(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=1)  # side n -> ceil(n / 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Upsample(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        return self.conv(F.interpolate(x, size=size, mode="nearest"))


class UNet(nn.Module):
    """eps_theta(x_t, t, y): (B, C, H, W), (B,) long, optional (B,) long -> (B, C, H, W)."""

    def __init__(self, config: UNetConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        ch = config.base_channels
        emb_dim = 4 * ch
        self.time_mlp = nn.Sequential(nn.Linear(ch, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.class_emb = nn.Embedding(config.num_classes + 1, emb_dim) if config.num_classes else None
        self.conv_in = nn.Conv2d(config.in_channels, ch, 3, padding=1)

        levels = len(config.channel_mults)
        lowest = levels - 1
        self.down = nn.ModuleList()
        skips = [ch]
        cur = ch
        for level, mult in enumerate(config.channel_mults):
            out = config.base_channels * mult
            for _ in range(config.num_res_blocks):
                blocks = nn.ModuleList([ResBlock(cur, out, emb_dim, config.dropout)])
                if config.attention_at_lowest and level == lowest:
                    blocks.append(SelfAttention(out))
                self.down.append(blocks)
                cur = out
                skips.append(cur)
            if level != lowest:
                self.down.append(nn.ModuleList([Downsample(cur)]))
                skips.append(cur)

        self.mid1 = ResBlock(cur, cur, emb_dim, config.dropout)
        self.mid_attn = SelfAttention(cur) if config.attention_at_lowest else nn.Identity()
        self.mid2 = ResBlock(cur, cur, emb_dim, config.dropout)

        self.up = nn.ModuleList()
        for level in reversed(range(levels)):
            out = config.base_channels * config.channel_mults[level]
            for _ in range(config.num_res_blocks + 1):
                blocks = nn.ModuleList([ResBlock(cur + skips.pop(), out, emb_dim, config.dropout)])
                if config.attention_at_lowest and level == lowest:
                    blocks.append(SelfAttention(out))
                self.up.append(blocks)
                cur = out
            if level != 0:
                self.up.append(nn.ModuleList([Upsample(cur)]))

        self.norm_out = norm(cur)
        self.conv_out = nn.Conv2d(cur, config.in_channels, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def embed(self, t: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """Time embedding plus, for a class-conditional net, the class embedding (y None -> null class)."""
        emb = self.time_mlp(timestep_embedding(t, self.config.base_channels))
        if self.class_emb is not None:
            if y is None:
                y = torch.full_like(t, self.config.num_classes)
            emb = emb + self.class_emb(y.long())
        return emb

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        t = t.reshape(-1).expand(x.shape[0]) if t.numel() == 1 else t
        emb = self.embed(t, y)
        h = self.conv_in(x)
        hs = [h]
        for blocks in self.down:
            h = _run(blocks, h, emb)
            hs.append(h)
        h = self.mid2(self.mid_attn(self.mid1(h, emb)), emb)
        for blocks in self.up:
            if isinstance(blocks[0], Upsample):
                h = blocks[0](h, hs[-1].shape[-2:])
            else:
                h = _run(blocks, torch.cat([h, hs.pop()], dim=1), emb)
        return self.conv_out(F.silu(self.norm_out(h)))


def _run(blocks: nn.ModuleList, h: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
    for block in blocks:
        h = block(h, emb) if isinstance(block, ResBlock) else block(h)
    return h


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
