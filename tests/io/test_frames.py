"""Tensor -> uint8 frames: the numbers every panel, GIF and sheet is made of."""

from __future__ import annotations

import numpy as np
import torch

from diffusion_studio.io.frames import tile, to_uint8_batch


def test_uint8_frames_match_a_plain_numpy_reference() -> None:
    x = torch.randn(2, 3, 17, 9, dtype=torch.float64) * 1.5
    for lo, hi in ((-1.0, 1.0), (-3.0, 3.0)):
        ours = to_uint8_batch(x, lo, hi)
        ref = np.floor((np.clip(x.numpy(), lo, hi) - lo) * 255.0 / (hi - lo) + 0.5).transpose(0, 2, 3, 1)
        assert ours.dtype == np.uint8 and ours.shape == (2, 17, 9, 3) and ours.flags.c_contiguous
        assert np.abs(ours.astype(int) - ref).max() <= 1  # float32 arithmetic may land one level off at .5
        assert np.mean(ours == ref) > 0.999


def test_ends_and_middle_of_the_range() -> None:
    x = torch.tensor([-5.0, -1.0, 0.0, 1.0, 5.0]).reshape(1, 1, 1, 5)
    assert to_uint8_batch(x)[0, 0, :, 0].tolist() == [0, 0, 128, 255, 255]  # 127.5 rounds half up


def test_tile_puts_a_batch_in_a_near_square_grid() -> None:
    images = np.zeros((5, 4, 3, 1), np.uint8) + np.arange(1, 6, dtype=np.uint8)[:, None, None, None]
    grid = tile(images, gap=1, fill=0)
    assert grid.shape == (2 * 4 + 1, 3 * 3 + 2, 1)
    assert grid[0, 0, 0] == 1 and grid[0, 4, 0] == 2 and grid[5, 0, 0] == 4 and grid[4, 0, 0] == 0
    assert grid[5, 8, 0] == 0  # the sixth cell stays empty
    assert np.array_equal(tile(images[:1]), images[0])
