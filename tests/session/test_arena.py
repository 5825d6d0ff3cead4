"""The block that a run's recorded step tensors are copied into."""

from __future__ import annotations

import numpy as np
import torch

from diffusion_studio.session.arena import StepArena, hugepage_empty
from diffusion_studio.session.frames import StepFrames


def test_a_large_block_is_one_writable_tensor_of_the_asked_shape():
    block = hugepage_empty((3, 512, 1024), torch.float32)  # 6 MB: in anonymous, huge-page-advised memory
    block.fill_(1.5)
    assert block.shape == (3, 512, 1024) and block.is_contiguous() and float(block.sum()) == 1.5 * block.numel()
    small = hugepage_empty((2, 3))
    assert small.shape == (2, 3) and small.dtype == torch.float32


def test_frames_are_copied_into_slots_and_shared_panes_stay_shared():
    arena = StepArena(2)
    x, x0, eps = torch.randn(3, 1, 3, 4, 5)
    first = arena.put(StepFrames(0, 1, 5, -1, x[None] if x.dim() == 3 else x, x0, eps))
    final = arena.put(StepFrames(1, 1, -1, -1, x0, x0, eps))
    assert torch.equal(first.tensor(0), x) and torch.equal(first.tensor(2), eps)
    assert final.tensor(0) is final.tensor(1) and torch.equal(final.tensor(0), x0)
    assert arena.used == 2 and arena.nbytes == 2 * 3 * x.numel() * 4
    extra = StepFrames(2, 1, -1, -1, x0, x0, eps)
    assert arena.put(extra) is extra  # no slot left: kept as it came


def test_pictures_and_odd_frames_pass_through():
    arena = StepArena(4)
    pic = np.zeros((4, 5, 3), np.uint8)
    frame = StepFrames(0, 1, 0, -1, pic, pic, pic)
    assert arena.put(frame) is frame and arena.used == 0
    arena.put(StepFrames(0, 2, 1, 0, *torch.zeros(3, 1, 3, 4, 5)))
    other = StepFrames(1, 2, 0, -1, *torch.zeros(3, 1, 3, 8, 8))  # not the block's shape
    assert arena.put(other) is other and arena.used == 1
