"""The training loop: random minibatches, AdamW with warm-up and optional cool-down, gradient clipping, EMA,
checkpoints, resume.

DDPM Algorithm 1 (Ho et al. 2020) is the objective for the U-Net (see :mod:`.objectives`); the loop itself is
objective-agnostic and also trains the noise-aware classifier. Every random number (batch indices, flips, t,
eps, label dropout) comes from one generator on the training device, seeded once; dropout inside the network
uses torch's global generators. A checkpoint stores all of them with the weights, the EMA and the optimizer,
so resuming reproduces the uninterrupted run exactly (bit for bit on the CPU).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from diffusion_studio.errors import ModelError, OptionError
from diffusion_studio.training import distributed
from diffusion_studio.training.checkpoint import RngState, load_checkpoint, save_checkpoint
from diffusion_studio.training.data import Dataset
from diffusion_studio.training.ema import EMA

# Settings that say how long to train, when to stop and how often to report, not what is trained: they may
# differ on --resume (the cool-down too, so that a run at constant lr can be resumed into one), so the resume
# check leaves them out.
MAY_CHANGE_ON_RESUME = ("steps", "cooldown", "checkpoint_every", "sample_every", "log_every")

LossFn = Callable[[nn.Module, torch.Tensor, "torch.Tensor | None", torch.Generator], torch.Tensor]


@dataclass(frozen=True)
class TrainConfig:
    steps: int
    batch: int = 64
    lr: float = 2e-4
    warmup: int = 200  # linear learning-rate warm-up over this many steps, then constant (as DDPM)
    cooldown: int = 0  # linear decay to 0 over the last this many of ``steps`` (warm-up, stable, decay)
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    ema_decay: float = 0.999
    flip: bool = False  # random horizontal flips (not for digits or text)
    seed: int = 0
    checkpoint_every: int = 1000
    sample_every: int = 0  # 0 = a sample sheet only at the end
    log_every: int = 100
    bf16: bool = False  # bf16 autocast, CUDA only

    def lr_at(self, step: int) -> float:
        """The learning rate of step ``step`` (0-based): linear warm-up, constant, then the cool-down."""
        warm = min(1.0, (step + 1) / max(1, self.warmup))
        cool = 1.0
        if self.cooldown > 0:
            cool = min(1.0, max(0.0, (self.steps - step) / self.cooldown))
        return self.lr * min(warm, cool)


@dataclass
class TrainResult:
    step: int  # steps done in total
    losses: list[float]  # loss of every step 0..step-1, resumed steps included
    net: nn.Module
    ema: EMA


def train(
    net: nn.Module,
    loss_fn: LossFn,
    data: Dataset,
    cfg: TrainConfig,
    checkpoint_dir: Path,
    device: torch.device,
    settings: dict,
    resume: bool = False,
    on_sample: Callable[[EMA, int], None] | None = None,
) -> TrainResult:
    """Train ``net`` in place for ``cfg.steps`` steps in total; ``settings`` must match on resume.

    Under torchrun every process runs this with the same arguments (see :mod:`.distributed`): each trains on its
    share of every batch, and only rank 0 writes checkpoints and sample sheets.
    """
    if cfg.steps < 1 or cfg.batch < 1:
        raise OptionError("The number of steps and the batch size must be at least 1.")
    dist, device = distributed.setup(device)
    try:
        return _train(net, loss_fn, data, cfg, checkpoint_dir, device, settings, resume, on_sample, dist)
    finally:
        distributed.teardown(dist)


def _train(
    net: nn.Module,
    loss_fn: LossFn,
    data: Dataset,
    cfg: TrainConfig,
    checkpoint_dir: Path,
    device: torch.device,
    settings: dict,
    resume: bool,
    on_sample: Callable[[EMA, int], None] | None,
    dist: distributed.Dist,
) -> TrainResult:
    keep = dist.share(cfg.batch) if dist.world > 1 else None
    if not dist.main:
        on_sample = None
    torch.manual_seed(cfg.seed)
    net.to(device).train()
    channels_last = torch.channels_last if device.type == "cuda" else torch.contiguous_format
    net.to(memory_format=channels_last)  # NHWC convolutions suit tensor cores; the CPU path stays as it was
    images = torch.from_numpy(data.images).permute(0, 3, 1, 2).contiguous().to(device)  # uint8, N C H W
    labels = None if data.labels is None else torch.from_numpy(data.labels).to(device)
    ema = EMA(net, cfg.ema_decay)
    fused = device.type == "cuda"
    optimizer = torch.optim.AdamW(
        net.parameters(), lr=cfg.lr, betas=(0.9, 0.999), weight_decay=cfg.weight_decay, fused=fused
    )
    gen = torch.Generator(device=device).manual_seed(cfg.seed)
    rng = RngState(gen, cuda=device.type == "cuda")
    settings = json.loads(json.dumps({**settings, "train": asdict(cfg)}))  # as it reads back from state.json
    start, losses = 0, []
    if resume:
        ckpt = load_checkpoint(checkpoint_dir, net, ema, optimizer, rng)
        _check_same(settings, ckpt.settings, checkpoint_dir)
        start, losses = ckpt.step, ckpt.losses
    model = distributed.wrap(net, dist, device)  # DDP averages the gradients of the processes' shares

    pending: list[torch.Tensor] = []
    progress = _Progress(start, cfg.steps, cfg.batch, cfg.log_every, quiet=not dist.main)
    for step in range(start, cfg.steps):
        idx = torch.randint(0, len(images), (cfg.batch,), generator=gen, device=device)
        x0 = images[idx].float() / 127.5 - 1.0
        if cfg.flip:
            flip = torch.rand(cfg.batch, generator=gen, device=device) < 0.5
            x0 = torch.where(flip[:, None, None, None], x0.flip(-1), x0)
        x0 = x0.contiguous(memory_format=channels_last)
        y = None if labels is None else labels[idx]
        with torch.autocast("cuda", torch.bfloat16, enabled=cfg.bf16 and device.type == "cuda"):
            loss = loss_fn(model, x0, y, gen) if keep is None else loss_fn(model, x0, y, gen, keep=keep)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), cfg.grad_clip)
        for group in optimizer.param_groups:
            group["lr"] = cfg.lr_at(step)
        optimizer.step()
        ema.update(net)
        pending.append(loss.detach())
        done = step + 1
        if done % cfg.log_every == 0 or done == cfg.steps or done % cfg.checkpoint_every == 0:
            losses.extend(_drain(pending, done, dist))
            progress.update(done, losses[-1])
        if dist.main and (done % cfg.checkpoint_every == 0 or done == cfg.steps):
            save_checkpoint(checkpoint_dir, done, net, ema, optimizer, rng, losses, settings)
        if on_sample is not None and (
            done == cfg.steps or (cfg.sample_every and done % cfg.sample_every == 0)
        ):
            on_sample(ema, done)
    progress.close()
    losses.extend(_drain(pending, cfg.steps, dist))
    if start >= cfg.steps and on_sample is not None:  # resumed with nothing left to train: still write the sheet
        on_sample(ema, start)
    return TrainResult(max(start, cfg.steps), losses, net, ema)


def _drain(pending: list[torch.Tensor], step: int, dist: distributed.Dist | None = None) -> list[float]:
    """The losses of the steps since the last drain, as floats (one device sync); NaN/Inf stops training.

    In a group, each is the mean over the processes: the loss of the whole global batch."""
    if not pending:
        return []
    stacked = torch.stack(pending).float()
    values = (stacked if dist is None else distributed.mean_over_processes(stacked, dist)).cpu().tolist()
    pending.clear()
    if not all(v == v and abs(v) != float("inf") for v in values):
        raise ModelError(
            f"Training diverged (the loss became NaN or infinite) by step {step}; try a lower --lr."
        )
    return values


def _check_same(now: dict, then: dict, folder: Path) -> None:
    now, then = _without_free_settings(now), _without_free_settings(then)
    for key in sorted(set(now) | set(then)):
        if now.get(key) != then.get(key):
            raise OptionError(
                f"The checkpoint in {folder} was made with different settings ({key}: {then.get(key)!r}, "
                f"now {now.get(key)!r}); resume with the same options, or train into a new --out folder."
            )


def _without_free_settings(settings: dict) -> dict:
    train = settings.get("train")
    if not isinstance(train, dict):
        return settings
    return settings | {"train": {k: v for k, v in train.items() if k not in MAY_CHANGE_ON_RESUME}}


class _Progress:
    """A tqdm bar (loss, images/s) on a terminal; plain lines every ``log_every`` steps in a log file."""

    def __init__(self, start: int, total: int, batch: int, log_every: int, quiet: bool = False) -> None:
        self.quiet = quiet  # the other processes of a group stay silent; rank 0 reports
        self.tty = sys.stderr.isatty() and not quiet
        self.batch, self.total = batch, total
        self.bar = tqdm(
            total=total, initial=start, file=sys.stderr, unit="step", dynamic_ncols=True, disable=not self.tty
        )
        self.last_step, self.last_time, self.t0 = start, time.perf_counter(), time.perf_counter()
        self.smooth: float | None = None

    def update(self, step: int, loss: float) -> None:
        now = time.perf_counter()
        rate = (step - self.last_step) * self.batch / max(now - self.last_time, 1e-9)
        self.smooth = loss if self.smooth is None else 0.9 * self.smooth + 0.1 * loss
        if self.quiet:
            pass
        elif self.tty:
            self.bar.update(step - self.last_step)
            self.bar.set_postfix(loss=f"{self.smooth:.4f}", img_s=f"{rate:.0f}")
        else:
            print(
                f"step {step}/{self.total}  loss {self.smooth:.4f}  {rate:.0f} img/s  {now - self.t0:.0f} s",
                file=sys.stderr,
                flush=True,
            )
        self.last_step, self.last_time = step, now

    def close(self) -> None:
        self.bar.close()
