"""The U-Net: shapes at 28, 32 and odd sides, conditioning, and the sizes of the shipped presets."""

from __future__ import annotations

import pytest
import torch

from diffusion_studio.models.unet import UNet, UNetConfig, count_parameters, timestep_embedding
from diffusion_studio.training.command import ARCHS

TINY = UNetConfig(in_channels=1, base_channels=8, channel_mults=(1, 2, 2), num_res_blocks=1, num_classes=3)


@pytest.mark.parametrize(("channels", "side"), [(1, 28), (3, 32), (1, 7), (3, 13)])
def test_output_has_the_input_shape(channels: int, side: int) -> None:
    net = UNet(UNetConfig(in_channels=channels, base_channels=8, channel_mults=(1, 2, 2), num_classes=0))
    x = torch.randn(2, channels, side, side)
    assert net(x, torch.tensor([0, 999])).shape == x.shape


def test_class_embedding_has_a_null_row_and_labels_change_the_output() -> None:
    torch.manual_seed(0)
    net = UNet(TINY)
    assert net.class_emb is not None and net.class_emb.num_embeddings == TINY.num_classes + 1
    with torch.no_grad():  # residual branches and the output layer start at zero; wake them up
        for p in net.parameters():
            p.normal_(0.0, 0.2)
    x, t = torch.randn(1, 1, 28, 28), torch.tensor([500])
    out_a, out_b = net(x, t, torch.tensor([0])), net(x, t, torch.tensor([1]))
    assert not torch.allclose(out_a, out_b)
    assert torch.equal(net(x, t, None), net(x, t, torch.tensor([TINY.num_classes])))  # None = null class


def test_scalar_timestep_broadcasts_over_the_batch() -> None:
    net = UNet(TINY)
    x = torch.randn(3, 1, 28, 28)
    assert net(x, torch.tensor(10)).shape == x.shape


def test_timestep_embedding_is_sinusoidal() -> None:
    emb = timestep_embedding(torch.tensor([0, 1]), 8)
    assert emb.shape == (2, 8)
    assert torch.allclose(emb[0], torch.tensor([1.0] * 4 + [0.0] * 4))


@pytest.mark.parametrize(("channels", "classes"), [(1, 10), (3, 9)])
def test_builtin_preset_sizes_fit_the_10_mb_budget(channels: int, classes: int) -> None:
    net = UNet(UNetConfig(in_channels=channels, num_classes=classes, **ARCHS["small"]))
    params = count_parameters(net)
    assert 1_000_000 <= params <= 2_500_000
    assert params * 4 <= 10 * 1024 * 1024  # fp32 safetensors


def test_config_round_trips_and_rejects_unknown_keys() -> None:
    assert UNetConfig.from_dict(TINY.to_dict()) == TINY
    with pytest.raises(ValueError):
        UNetConfig.from_dict({**TINY.to_dict(), "heads": 4})
    with pytest.raises(ValueError):
        UNetConfig.from_dict({**TINY.to_dict(), "channel_mults": []})
