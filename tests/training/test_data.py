"""Training data: folders and .npz files load; each kind of bad data gives one clear DataError."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from diffusion_studio.errors import DataError
from diffusion_studio.training.data import load_dataset


def test_npz_with_labels(npz_path: Path) -> None:
    data = load_dataset(npz_path, with_labels=True)
    assert data.images.shape == (24, 8, 8, 1) and data.images.dtype == np.uint8
    assert data.class_names == ("left", "top") and data.labels.tolist()[:4] == [0, 1, 0, 1]
    assert load_dataset(npz_path).labels is None


def test_npz_resized_and_converted(npz_path: Path) -> None:
    data = load_dataset(npz_path, size=12, channels=3)
    assert data.images.shape == (24, 12, 12, 3)


def test_npz_without_classes_names_labels_by_number(tmp_path: Path) -> None:
    path = tmp_path / "n.npz"
    np.savez(path, x=np.zeros((4, 6, 6, 3), np.uint8), y=np.array([0, 1, 2, 1]))
    assert load_dataset(path, with_labels=True).class_names == ("0", "1", "2")


def test_folder_with_class_subfolders(image_folder: Path) -> None:
    data = load_dataset(image_folder, with_labels=True)
    assert data.images.shape == (12, 8, 8, 3)
    assert data.class_names == ("left", "top")
    assert sorted(set(data.labels.tolist())) == [0, 1]
    assert load_dataset(image_folder, channels=1).images.shape == (12, 8, 8, 1)


def _expect(message: str, path: Path, **kwargs) -> None:
    with pytest.raises(DataError, match=message) as err:
        load_dataset(path, **kwargs)
    text = str(err.value)
    assert text.endswith(".") and "\n" not in text


def test_missing_path(tmp_path: Path) -> None:
    _expect("does not exist", tmp_path / "nothing")


def test_empty_folder(tmp_path: Path) -> None:
    _expect("holds no images", tmp_path)


def test_mixed_sizes_need_size(tmp_path: Path) -> None:
    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    Image.new("RGB", (10, 8)).save(tmp_path / "b.png")
    _expect("differ in size .*a.png is 8 x 8, b.png is 10 x 8.*--size", tmp_path)
    assert load_dataset(tmp_path, size=6).images.shape == (2, 6, 6, 3)


def test_non_square_images_need_size(tmp_path: Path) -> None:
    Image.new("RGB", (10, 8)).save(tmp_path / "a.png")
    _expect("give --size", tmp_path)


def test_corrupt_image_is_named(tmp_path: Path) -> None:
    Image.new("RGB", (8, 8)).save(tmp_path / "good.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    _expect("broken.png could not be read", tmp_path)


def test_loose_images_with_classes(image_folder: Path) -> None:
    Image.new("RGB", (8, 8)).save(image_folder / "loose.png")
    _expect("loose.png is directly in", image_folder, with_labels=True)


def test_npz_missing_x(tmp_path: Path) -> None:
    np.savez(tmp_path / "a.npz", images=np.zeros((2, 4, 4), np.uint8))
    _expect("no array 'x'", tmp_path / "a.npz")


def test_npz_wrong_dtype(tmp_path: Path) -> None:
    np.savez(tmp_path / "a.npz", x=np.zeros((2, 4, 4), np.float32))
    _expect("must be uint8 .* not float32", tmp_path / "a.npz")


def test_npz_wrong_shape(tmp_path: Path) -> None:
    np.savez(tmp_path / "a.npz", x=np.zeros((2, 4, 4, 2), np.uint8))
    _expect(r"shaped \(N, H, W\)", tmp_path / "a.npz")


def test_npz_labels_out_of_range(tmp_path: Path) -> None:
    np.savez(
        tmp_path / "a.npz",
        x=np.zeros((3, 4, 4), np.uint8),
        y=np.array([0, 1, 5]),
        classes=np.array(["a", "b"]),
    )
    _expect(r"must be 0\.\.1, but one is 5", tmp_path / "a.npz", with_labels=True)
    np.savez(tmp_path / "b.npz", x=np.zeros((3, 4, 4), np.uint8), y=np.array([0, -1, 1]))
    _expect("but one is -1", tmp_path / "b.npz", with_labels=True)


def test_npz_labels_needed_for_classes(tmp_path: Path) -> None:
    np.savez(tmp_path / "a.npz", x=np.zeros((3, 4, 4), np.uint8))
    _expect("no array 'y'", tmp_path / "a.npz", with_labels=True)


def test_npz_float_labels(tmp_path: Path) -> None:
    np.savez(tmp_path / "a.npz", x=np.zeros((2, 4, 4), np.uint8), y=np.array([0.0, 1.0]))
    _expect("whole numbers", tmp_path / "a.npz", with_labels=True)


def test_npz_with_pickled_objects_is_refused(tmp_path: Path) -> None:
    np.savez(tmp_path / "a.npz", x=np.array([object(), object()], dtype=object))
    _expect("without pickled objects", tmp_path / "a.npz")


def test_not_an_npz(tmp_path: Path) -> None:
    (tmp_path / "a.npz").write_bytes(b"garbage")
    _expect("not a readable .npz", tmp_path / "a.npz")
    (tmp_path / "a.txt").write_text("hi")
    _expect("neither a folder of images nor an .npz", tmp_path / "a.txt")
