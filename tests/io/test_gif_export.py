"""GIF and contact-sheet export, read back with Pillow; frame selection as a pure function."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from diffusion_studio.errors import ExportError, OptionError
from diffusion_studio.io import atomic
from diffusion_studio.io.gif import (
    CELL_GAP,
    GifOptions,
    export_contact_sheet,
    export_gif,
    frame_delay_ms,
    play_order,
    select_indices,
)
from diffusion_studio.io.layout import GAP

# Well separated colours so each frame can be told apart after quantisation.
COLOURS = [
    (230, 20, 20),
    (20, 200, 20),
    (20, 20, 230),
    (230, 230, 20),
    (20, 220, 220),
    (200, 20, 200),
    (120, 60, 0),
    (0, 0, 0),
    (255, 255, 255),
    (128, 128, 128),
]


def solid(colour: tuple[int, int, int], size: int = 16) -> np.ndarray:
    return np.full((size, size, 3), colour, np.uint8)


def solids(n: int, size: int = 16) -> list[np.ndarray]:
    return [solid(COLOURS[i], size) for i in range(n)]


def read_back(path: Path) -> tuple[list[np.ndarray], list[int], dict]:
    """Every frame as RGB (as a viewer composites it), each frame's duration, and the first frame's info."""
    frames, durations = [], []
    with Image.open(path) as im:
        info = dict(im.info)
        for k in range(im.n_frames):
            im.seek(k)
            durations.append(im.info["duration"])
            frames.append(np.asarray(im.convert("RGB")).copy())
    return frames, durations, info


def colour_index(frame: np.ndarray) -> int:
    """Which of COLOURS the frame's top-left pixel is closest to."""
    return int(np.argmin([np.abs(np.array(c) - frame[0, 0].astype(int)).sum() for c in COLOURS]))


def test_frames_durations_loop_and_hold(tmp_path: Path) -> None:
    summary = export_gif(tmp_path / "a.gif", solids(5), options=GifOptions(fps=20, label=False))
    frames, durations, info = read_back(tmp_path / "a.gif")
    assert len(frames) == summary.frames == 5
    assert durations == [50, 50, 50, 50, 50 + 1500]
    assert info.get("loop") == 0
    assert [colour_index(f) for f in frames] == [0, 1, 2, 3, 4]
    assert summary.bytes == (tmp_path / "a.gif").stat().st_size
    assert summary.seconds == pytest.approx(sum(durations) / 1000)


def test_colours_survive_the_global_palette(tmp_path: Path) -> None:
    export_gif(tmp_path / "c.gif", solids(10), options=GifOptions(label=False))
    frames, _, _ = read_back(tmp_path / "c.gif")
    for frame, colour in zip(frames, COLOURS, strict=True):
        assert np.abs(frame.astype(int) - colour).max() <= 4


def test_play_once_writes_no_loop_block_and_counts_are_kept(tmp_path: Path) -> None:
    export_gif(tmp_path / "once.gif", solids(3), options=GifOptions(loop=None, label=False))
    export_gif(tmp_path / "three.gif", solids(3), options=GifOptions(loop=3, label=False))
    assert "loop" not in read_back(tmp_path / "once.gif")[2]
    assert read_back(tmp_path / "three.gif")[2]["loop"] == 3


def test_identical_neighbours_are_merged_and_time_is_kept(tmp_path: Path) -> None:
    frames = [solid(COLOURS[0]), solid(COLOURS[0]), solid(COLOURS[0]), solid(COLOURS[1])]
    summary = export_gif(tmp_path / "m.gif", frames, options=GifOptions(fps=10, hold_last_ms=0, label=False))
    got, durations, _ = read_back(tmp_path / "m.gif")
    assert len(got) == summary.frames == 2
    assert durations == [300, 100]
    assert summary.seconds == pytest.approx(0.4)


@pytest.mark.parametrize(
    ("direction", "expected"),
    [("denoise", [0, 1, 2, 3]), ("noise", [3, 2, 1, 0]), ("both", [0, 1, 2, 3, 2, 1, 0])],
)
def test_direction(tmp_path: Path, direction: str, expected: list[int]) -> None:
    export_gif(tmp_path / "d.gif", solids(4), options=GifOptions(direction=direction, label=False))
    frames, durations, _ = read_back(tmp_path / "d.gif")
    assert [colour_index(f) for f in frames] == expected
    assert durations[-1] == 1550 and set(durations[:-1]) == {50}


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (GifOptions(stride=3), [0, 3, 6, 9]),
        (GifOptions(stride=4), [0, 4, 8, 9]),
        (GifOptions(frame_count=4), [0, 3, 6, 9]),
    ],
)
def test_stride_and_frame_count_pick_frames(tmp_path: Path, options: GifOptions, expected: list[int]) -> None:
    labels = [f"t = {i}" for i in range(10)]
    export_gif(tmp_path / "s.gif", solids(10, size=32), labels, options)
    frames, _, _ = read_back(tmp_path / "s.gif")
    assert [colour_index(f) for f in frames] == expected


def test_panels_side_by_side_with_caption_and_scale(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    steps = [tuple(rng.integers(0, 256, (28, 28, 3), dtype=np.uint8) for _ in range(3)) for _ in range(4)]
    labels = [f"t = {t}" for t in (999, 666, 333, 0)]
    export_gif(tmp_path / "p.gif", steps, labels, GifOptions(scale=2))
    with Image.open(tmp_path / "p.gif") as im:
        width, height = im.size
    assert width == 3 * 56 + 2 * GAP
    assert height > 56 + 10  # a caption strip below the 56 px panels
    export_gif(tmp_path / "bare.gif", steps, labels, GifOptions(scale=2, label=False))
    with Image.open(tmp_path / "bare.gif") as im:
        assert im.size == (3 * 56 + 2 * GAP, 56)


def test_caption_is_drawn_and_differs_per_frame(tmp_path: Path) -> None:
    steps = [solid((200, 200, 200), 32)] * 2
    export_gif(tmp_path / "l.gif", steps, ["t = 999", "t = 0"], GifOptions())
    frames, _, _ = read_back(tmp_path / "l.gif")
    assert len(frames) == 2  # same panels, different labels: not merged
    strip = frames[0][32:]
    assert strip.min() < 100  # dark text on the white strip


def test_tiny_images_get_a_caption_wide_enough_for_the_label(tmp_path: Path) -> None:
    export_gif(tmp_path / "t.gif", solids(2, size=8), ["t = 1000", "t = 0"], GifOptions())
    with Image.open(tmp_path / "t.gif") as im:
        assert im.size[0] > 8  # the canvas widened so the label fits


def test_scale_is_nearest_neighbour(tmp_path: Path) -> None:
    checker = (np.indices((4, 4)).sum(axis=0) % 2 * 255).astype(np.uint8)
    export_gif(tmp_path / "n.gif", [checker, 255 - checker], options=GifOptions(scale=3, label=False))
    frames, _, _ = read_back(tmp_path / "n.gif")
    assert frames[0].shape == (12, 12, 3)
    expected = checker.repeat(3, axis=0).repeat(3, axis=1)
    np.testing.assert_array_equal(frames[0][..., 0], expected)


def test_greyscale_and_single_channel_frames(tmp_path: Path) -> None:
    grey = [np.full((8, 8), v, np.uint8) for v in (0, 128, 255)]
    export_gif(tmp_path / "g.gif", grey, options=GifOptions(label=False))
    export_gif(tmp_path / "g1.gif", [g[:, :, None] for g in grey], options=GifOptions(label=False))
    frames, _, _ = read_back(tmp_path / "g.gif")
    assert [int(f[0, 0, 0]) for f in frames] == [0, 128, 255]


def test_single_frame(tmp_path: Path) -> None:
    summary = export_gif(tmp_path / "one.gif", solids(1), ["t = 0"])
    assert summary.frames == 1
    with Image.open(tmp_path / "one.gif") as im:
        assert im.n_frames == 1


@pytest.mark.parametrize(
    ("frames", "labels", "options"),
    [
        ([], None, GifOptions()),
        ([solid(COLOURS[0], 16), solid(COLOURS[1], 17)], None, GifOptions()),
        ([(solid(COLOURS[0]), solid(COLOURS[1])), (solid(COLOURS[0]),)], None, GifOptions()),
        ([np.zeros((4, 4, 3), np.float32)], None, GifOptions()),
        ([np.zeros((4, 4, 2), np.uint8)], None, GifOptions()),
        (solids(2), ["only one"], GifOptions()),
        (solids(2), None, GifOptions(fps=0)),
        (solids(2), None, GifOptions(fps=-5)),
        (solids(2), None, GifOptions(fps=101)),
        (solids(2), None, GifOptions(scale=0)),
        (solids(2), None, GifOptions(stride=0)),
        (solids(2), None, GifOptions(frame_count=1)),
        (solids(2), None, GifOptions(stride=2, frame_count=2)),
        (solids(2), None, GifOptions(loop=-1)),
        (solids(2), None, GifOptions(hold_last_ms=-1)),
        (solids(2), None, GifOptions(direction="sideways")),  # type: ignore[arg-type]
    ],
)
def test_bad_input_raises_one_sentence_option_error(
    tmp_path: Path, frames: list, labels: list | None, options: GifOptions
) -> None:
    with pytest.raises(OptionError) as caught:
        export_gif(tmp_path / "bad.gif", frames, labels, options)
    assert str(caught.value).endswith(".") and "\n" not in str(caught.value)
    assert os.listdir(tmp_path) == []


def test_failed_export_leaves_existing_gif_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "keep.gif"
    export_gif(target, solids(3), options=GifOptions(label=False))
    before = target.read_bytes()

    def failing_fsync(path: Path) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(atomic, "_fsync", failing_fsync)
    with pytest.raises(ExportError, match="keep.gif"):
        export_gif(target, solids(5), options=GifOptions(label=False))
    assert target.read_bytes() == before
    assert os.listdir(tmp_path) == ["keep.gif"]


def test_exception_inside_pillow_save_leaves_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "keep.gif"
    target.write_bytes(b"old")
    real_save = Image.Image.save

    def save_then_fail(self: Image.Image, fp: object, *args: object, **kwargs: object) -> None:
        real_save(self, fp, *args, **kwargs)  # a full temp file exists now
        raise RuntimeError("interrupted")

    monkeypatch.setattr(Image.Image, "save", save_then_fail)
    with pytest.raises(RuntimeError):
        export_gif(target, solids(3), options=GifOptions(label=False))
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["keep.gif"]


def test_missing_folder_is_an_export_error(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="does not exist"):
        export_gif(tmp_path / "no" / "a.gif", solids(2))


def test_contact_sheet_grid_size(tmp_path: Path) -> None:
    frames = solids(5, size=32)
    path = export_contact_sheet(tmp_path / "sheet.png", frames)
    with Image.open(path) as im:
        assert im.format == "PNG"
        assert im.size == (3 * 32 + 4 * CELL_GAP, 2 * 32 + 3 * CELL_GAP)  # near-square: 3 columns, 2 rows
    export_contact_sheet(tmp_path / "row.png", frames, columns=5, scale=2)
    with Image.open(tmp_path / "row.png") as im:
        assert im.size == (5 * 64 + 6 * CELL_GAP, 64 + 2 * CELL_GAP)
    export_contact_sheet(tmp_path / "lab.png", frames, [f"t = {i}" for i in range(5)], columns=5)
    with Image.open(tmp_path / "lab.png") as im:
        assert im.size[1] > 32 + 2 * CELL_GAP


def test_contact_sheet_bad_input(tmp_path: Path) -> None:
    with pytest.raises(OptionError):
        export_contact_sheet(tmp_path / "s.png", [])
    with pytest.raises(OptionError):
        export_contact_sheet(tmp_path / "s.png", solids(2), columns=0)
    with pytest.raises(OptionError):
        export_contact_sheet(tmp_path / "s.png", solids(2), scale=0)
    with pytest.raises(OptionError):
        export_contact_sheet(tmp_path / "s.png", solids(2), scale=1.5)  # type: ignore[arg-type]
    assert os.listdir(tmp_path) == []


def test_select_indices() -> None:
    assert select_indices(10) == list(range(10))
    assert select_indices(10, stride=3) == [0, 3, 6, 9]
    assert select_indices(10, stride=4) == [0, 4, 8, 9]
    assert select_indices(10, stride=20) == [0, 9]
    assert select_indices(100, frame_count=5) == [0, 25, 50, 74, 99]
    assert select_indices(5, frame_count=50) == [0, 1, 2, 3, 4]
    assert select_indices(1, frame_count=2) == [0]
    assert select_indices(1, frame_count=1) == [0]  # callers pass min(k, n)
    assert select_indices(1, stride=3) == [0]


@pytest.mark.parametrize("n", [2, 3, 7, 50, 1000])
@pytest.mark.parametrize("k", [2, 3, 5, 49, 200])
def test_frame_count_is_exact_sorted_and_keeps_ends(n: int, k: int) -> None:
    picked = select_indices(n, frame_count=k)
    assert len(picked) == min(n, k)
    assert picked[0] == 0 and picked[-1] == n - 1
    assert picked == sorted(set(picked))


def test_select_indices_rejects_bad_values() -> None:
    for kwargs in ({"stride": 0}, {"frame_count": 1}, {"frame_count": 0}, {"stride": 2, "frame_count": 3}):
        with pytest.raises(OptionError):
            select_indices(10, **kwargs)
    with pytest.raises(OptionError):
        select_indices(0)


def test_play_order_and_delay() -> None:
    assert play_order([0, 1, 2], "both") == [0, 1, 2, 1, 0]
    assert play_order([0], "both") == [0]
    assert frame_delay_ms(20) == 50
    assert frame_delay_ms(30) == 30
    assert frame_delay_ms(100) == 20  # browsers slow delays under 20 ms down to 100 ms
    assert frame_delay_ms(0.5) == 2000
