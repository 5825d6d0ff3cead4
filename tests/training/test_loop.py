"""The loop: the loss goes down, and checkpoint + resume reproduce an uninterrupted run exactly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from diffusion_studio.core.schedules import make_schedule
from diffusion_studio.errors import DataError, OptionError
from diffusion_studio.models.unet import UNet, UNetConfig
from diffusion_studio.training.checkpoint import latest_state
from diffusion_studio.training.data import Dataset
from diffusion_studio.training.ema import EMA
from diffusion_studio.training.loop import TrainConfig, train
from diffusion_studio.training.objectives import eps_loss

SCHEDULE = make_schedule("linear", 100)
CONFIG = UNetConfig(
    in_channels=1,
    base_channels=8,
    channel_mults=(1, 2),
    num_res_blocks=1,
    attention_at_lowest=True,
    num_classes=2,
    dropout=0.1,
)


def _run(
    data: Dataset, folder: Path, steps: int, resume: bool = False, **overrides
) -> tuple[list[float], UNet, EMA]:
    torch.manual_seed(0)
    net = UNet(CONFIG)
    cfg = TrainConfig(
        **{
            "steps": steps,
            "batch": 8,
            "lr": 2e-3,
            "warmup": 3,
            "checkpoint_every": 3,
            "flip": True,
            "log_every": 2,
            **overrides,
        }
    )
    result = train(
        net,
        lambda n, x0, y, g: eps_loss(n, SCHEDULE, x0, y, g, 0.1, 2),
        data,
        cfg,
        folder,
        torch.device("cpu"),
        {"arch": CONFIG.to_dict()},
        resume=resume,
    )
    return result.losses, result.net, result.ema


def test_loss_goes_down(toy_dataset: Dataset, tmp_path: Path) -> None:
    losses, _, _ = _run(toy_dataset, tmp_path, 40, checkpoint_every=100)
    assert len(losses) == 40
    assert np.mean(losses[-10:]) < 0.7 * np.mean(losses[:5])


def test_resume_reproduces_the_uninterrupted_run_exactly(toy_dataset: Dataset, tmp_path: Path) -> None:
    whole_losses, whole_net, whole_ema = _run(toy_dataset, tmp_path / "whole", 7)
    _run(
        toy_dataset, tmp_path / "split", 4
    )  # "interrupted" after a checkpoint at step 3 and one at the end (4)
    split_losses, split_net, split_ema = _run(toy_dataset, tmp_path / "split", 7, resume=True)
    assert split_losses == whole_losses
    for (name, a), b in zip(whole_net.state_dict().items(), split_net.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    for a, b in zip(whole_ema.state_dict().values(), split_ema.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert whole_ema.updates == split_ema.updates == 7


def test_resume_without_checkpoint(toy_dataset: Dataset, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no checkpoint"):
        _run(toy_dataset, tmp_path, 3, resume=True)


def test_resume_with_other_settings_is_refused(toy_dataset: Dataset, tmp_path: Path) -> None:
    _run(toy_dataset, tmp_path, 3)
    with pytest.raises(OptionError, match="different settings"):
        _run(toy_dataset, tmp_path, 6, resume=True, batch=4)


def test_learning_rate_warms_up_holds_and_cools_down() -> None:
    cfg = TrainConfig(steps=100, lr=1.0, warmup=10, cooldown=20)
    assert cfg.lr_at(0) == pytest.approx(0.1)
    assert cfg.lr_at(9) == cfg.lr_at(50) == cfg.lr_at(80) == 1.0
    assert cfg.lr_at(90) == pytest.approx(0.5)
    assert cfg.lr_at(99) == pytest.approx(0.05)
    assert TrainConfig(steps=100, lr=1.0, warmup=10).lr_at(99) == 1.0  # no cool-down by default


def test_a_run_may_be_resumed_into_a_cool_down(toy_dataset: Dataset, tmp_path: Path) -> None:
    _run(toy_dataset, tmp_path, 3)
    losses, _, _ = _run(toy_dataset, tmp_path, 6, resume=True, cooldown=3)
    assert len(losses) == 6


def test_checkpoints_from_before_the_cool_down_option_still_resume(toy_dataset: Dataset, tmp_path: Path) -> None:
    _run(toy_dataset, tmp_path, 3)
    state_file = latest_state(tmp_path) / "state.json"
    state = json.loads(state_file.read_text())
    del state["settings"]["train"]["cooldown"]  # as written by version 0.1
    state_file.write_text(json.dumps(state))
    losses, _, _ = _run(toy_dataset, tmp_path, 5, resume=True, cooldown=2)
    assert len(losses) == 5


def test_ema_tracks_with_warm_up() -> None:
    net = torch.nn.Linear(2, 1)
    ema = EMA(net, decay=0.99)
    with torch.no_grad():
        net.weight.add_(1.0)
    ema.update(net)  # first decay is min(0.99, 1/10) = 0.1
    assert torch.allclose(ema.model.weight, 0.1 * (net.weight - 1.0) + 0.9 * net.weight)
    assert not ema.model.weight.requires_grad
