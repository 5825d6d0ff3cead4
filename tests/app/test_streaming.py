"""The app's remaining Qt-free helpers: the forward process and export selection (the frame stream and store are
tested in tests/session)."""

from __future__ import annotations

import numpy as np
import torch

from diffusion_studio.app.exporting import ExportRequest, chosen_positions, estimate, forward_source
from diffusion_studio.app.forward_view import ChainStore, ForwardProcess
from diffusion_studio.core.forward import q_sample
from diffusion_studio.core.schedules import make_schedule
from diffusion_studio.io.frames import to_uint8_batch
from diffusion_studio.io.images import image_to_tensor


def test_forward_process_matches_q_sample():
    image = np.random.default_rng(3).integers(0, 256, (12, 10, 3), dtype=np.uint8)
    sched = make_schedule("cosine", 100)
    fwd = ForwardProcess(image, sched, seed=5)
    x0 = image_to_tensor(image)[None]
    eps = torch.from_numpy(fwd.eps).permute(2, 0, 1)[None]
    for t in (0, 37, 99):
        expected = to_uint8_batch(q_sample(sched, x0, t, eps))[0]
        assert np.abs(fwd.x_t(t).astype(int) - expected).max() <= 1
    assert fwd.x_t(-1) is fwd.image
    before = fwd.x_t(50).copy()
    fwd.resample(6)
    assert not np.array_equal(before, fwd.x_t(50))


def test_chain_store_strides_when_over_budget():
    store = ChainStore(T=100, bytes_per_frame=10, budget_bytes=250)  # 1000 bytes wanted: every 4th t
    assert store.stride == 4
    for t in range(60):
        store.add(t, np.full((1, 1, 1), t, np.uint8))
    assert store.at(59)[0] == 56 and store.at(60) is None and store.progress == 0.6


def test_export_selection_and_estimate():
    image = np.zeros((8, 8, 3), np.uint8)
    source = forward_source(image, make_schedule("linear", 30), seed=0)
    assert source.ts[0] == 29 and source.ts[-1] == -1 and source.label(len(source.ts) - 1) == "x₀ (clean)"
    req = ExportRequest(path="x.gif", t_from=20, t_to=-1, frame_count=5)
    picks = chosen_positions(source, req)
    assert len(picks) == 5 and source.ts[picks[0]] == 20 and source.ts[picks[-1]] == -1
    frames, (w, h), size, seconds = estimate(source, req)
    assert frames == 5 and w > 3 * 8 and h > 8 and size > 0 and seconds > 0
