"""The frame store: tensors while they fit, pictures when not, an evenly spaced subset beyond; one shared budget."""

from __future__ import annotations

import gc
import threading

import numpy as np
import torch

from diffusion_studio.session.frame_store import PICTURES, SUBSET, TENSORS, FrameStore, MemoryBudget, record
from diffusion_studio.session.frames import Notice, StepFrames

PIC = 3 * 4 * 4 * 3  # three 4 x 4 RGB uint8 pictures
RAW = 4 * PIC  # the same as float32 tensors


def _frame(i: int, t: int, side: int = 4) -> StepFrames:
    pic = np.full((side, side, 3), i % 256, np.uint8)
    return StepFrames(i, 999, t, t - 1, pic, pic, pic)


def _raw_frame(i: int, t: int) -> StepFrames:
    x = torch.full((1, 3, 4, 4), (i % 100) / 100)
    return StepFrames(i, 999, t, t - 1, x, x.clone(), x.clone())


def test_frame_store_keeps_everything_under_budget():
    store = FrameStore(10**9)
    store.reset(1001, 3 * 256 * 256 * 3)  # a 1000-step run at 256 x 256: about 590 MB
    assert store.keeps_all and store.note() == "" and store.mode == PICTURES


def test_tensors_are_kept_as_they_come_while_they_fit():
    store = FrameStore(10 * RAW)
    store.reset(10, PIC, RAW)
    assert store.mode == TENSORS
    frames = [_raw_frame(i, 9 - i) for i in range(3)]
    assert all(store.add(f) for f in frames)
    for kept, frame in zip(store.frames, frames, strict=True):
        assert kept.is_raw and all(torch.equal(kept.tensor(j), frame.tensor(j)) for j in range(3))
        assert all(np.array_equal(a, b) for a, b in zip(kept.pictures(), frame.pictures(), strict=True))
    # copied into one block asked for up front: consecutive slots, not the sampler's own tensors
    starts = [f.tensor(0).data_ptr() for f in store.frames]
    assert starts[1] - starts[0] == starts[2] - starts[1] == RAW and store[0].tensor(0) is not frames[0].tensor(0)


def test_half_precision_tensors_when_float32_does_not_fit():
    store = FrameStore(10 * RAW - 1)
    store.reset(10, PIC, RAW)
    assert store.mode == TENSORS and store.budget.reserved == 10 * RAW // 2
    frame = _raw_frame(3, 6)
    store.add(frame)
    assert store[0].tensor(0).dtype == torch.float16 and torch.allclose(store[0].tensor(1).float(), frame.tensor(1),
                                                                        atol=1e-3)
    assert np.abs(store[0].x0.astype(int) - frame.x0).max() <= 1


def test_pictures_when_tensors_do_not_fit():
    store = FrameStore(10 * RAW // 2 - 1)
    store.reset(10, PIC, RAW)
    assert store.mode == PICTURES and store.keeps_all
    frame = _raw_frame(3, 6)
    store.add(frame)
    assert not store[0].is_raw and np.array_equal(store[0].x0, frame.x0)
    assert store.latest is store[0]


def test_frame_store_keeps_a_bounded_evenly_spaced_subset():
    store = FrameStore(100 * PIC)  # room for 100 frames of three 4 x 4 x 3 panels
    store.reset(1001, PIC)
    for i in range(1001):
        store.add(_frame(i, 999 - i))
    assert store.mode == SUBSET and len(store) == 100 and store.nbytes <= store.budget_bytes
    assert store[0].index == 0 and store[-1].index == 1000 and store.dropped == 901
    assert "100 of 1001" in store.note()
    assert store.at(500).t == min(store.timesteps, key=lambda t: abs(t - 500))
    assert store.at(-1).index == 1000
    assert store.received == 1001 and store.latest.index == 1000


def test_a_view_of_a_dropped_frame_still_follows_the_run():
    store = FrameStore(10 * PIC)
    store.reset(100, PIC)
    store.add(_frame(0, 99))
    kept = store.add(_frame(1, 98))
    assert not kept and store.latest.index == 1 and len(store) == 1


def test_timesteps_is_the_same_list_until_a_frame_arrives():
    store = FrameStore()
    store.reset(3, PIC)
    store.add(_frame(0, 2))
    first = store.timesteps
    assert store.timesteps is first
    store.add(_frame(1, 1))
    assert store.timesteps == [2, 1] and first == [2]


def test_stores_share_one_budget_and_say_what_they_dropped():
    budget = MemoryBudget(300 * PIC)
    one, two = FrameStore(budget, "run 1"), FrameStore(budget, "run 2")
    one.reset(200, PIC, RAW)
    assert one.mode == PICTURES and budget.reserved == 200 * PIC
    two.reset(201, PIC, RAW)  # 100 frames' room left
    assert two.mode == SUBSET and two.capacity == 100 and budget.reserved <= budget.total_bytes
    assert budget.notes() == [two.note()] and "run 2: keeping 100 of 201" in two.note()
    one.clear()
    assert budget.reserved == two.capacity * PIC
    two.reset(201, PIC, RAW)
    assert two.mode == PICTURES and budget.notes() == []


def test_a_limit_splits_the_budget_between_runs():
    budget = MemoryBudget(1000 * PIC)
    stores = [FrameStore(budget, f"run {i}") for i in range(4)]
    for store in stores:
        store.reset(300, PIC, limit_bytes=budget.total_bytes // 4)
    assert [s.capacity for s in stores] == [250] * 4 and len(budget.notes()) == 4


def test_a_store_gives_its_share_back_when_it_is_collected():
    budget = MemoryBudget(100 * PIC)
    store = FrameStore(budget)
    store.reset(50, PIC)
    assert budget.reserved == 50 * PIC
    del store
    gc.collect()
    assert budget.reserved == 0


def test_record_fills_the_store_and_passes_only_notices_on():
    store = FrameStore()
    store.reset(4, PIC)
    stream = [_frame(0, 3), Notice("restarted on the CPU", restart=True), _frame(0, 3), _frame(1, 2),
              Notice("just saying")]
    passed = list(record(store, stream))
    assert [n.text for n in passed] == ["restarted on the CPU", "just saying"]
    assert [f.index for f in store.frames] == [0, 1] and store.received == 2


def test_a_reader_sees_a_consistent_store_while_a_thread_adds():
    store = FrameStore()
    store.reset(5001, PIC)
    errors: list[BaseException] = []

    def write() -> None:
        for i in range(5001):
            store.add(_frame(i, 5000 - i))

    writer = threading.Thread(target=write)
    writer.start()
    while writer.is_alive():
        try:
            n = len(store)
            frames, ts = store.frames, store.timesteps
            assert len(frames) >= n and [f.t for f in frames[: len(ts)]] == ts[: len(frames)]
            found = store.at(2500)
            assert found is None or found.t in ts or found.t in store.timesteps
        except AssertionError as err:
            errors.append(err)
            break
    writer.join()
    assert not errors and len(store) == 5001
