"""Every way a dropped file can be bad gives ImageLoadError with one sentence naming the file."""

from __future__ import annotations

import os
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from diffusion_studio.errors import ImageLoadError
from diffusion_studio.io.images import load_image


def noisy_file(path: Path, size: tuple[int, int] = (120, 90)) -> Path:
    pixels = np.random.default_rng(1).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def expect_error(path: Path, *words: str, **kwargs: object) -> str:
    """Load ``path``, expecting ImageLoadError; return its one-sentence message."""
    with pytest.raises(ImageLoadError) as caught:
        load_image(path, **kwargs)
    message = str(caught.value)
    assert path.name in message
    assert message.endswith(".") and "\n" not in message
    for word in words:
        assert word in message
    return message


def test_missing_file(tmp_path: Path) -> None:
    expect_error(tmp_path / "nowhere.png", "does not exist")


def test_directory(tmp_path: Path) -> None:
    (tmp_path / "folder.png").mkdir()
    expect_error(tmp_path / "folder.png", "folder")


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.png").write_bytes(b"")
    expect_error(tmp_path / "empty.png", "empty")


@pytest.mark.parametrize("name", ["cut.png", "cut.jpg"])
def test_truncated_file(tmp_path: Path, name: str) -> None:
    data = noisy_file(tmp_path / name).read_bytes()
    (tmp_path / name).write_bytes(data[: len(data) // 2])
    expect_error(tmp_path / name, "truncated")
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_text_file_named_png(tmp_path: Path) -> None:
    (tmp_path / "notes.png").write_text("this is not a picture\n")
    expect_error(tmp_path / "notes.png", "not an image")


def test_garbage_after_a_valid_signature(tmp_path: Path) -> None:
    (tmp_path / "sig.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    expect_error(tmp_path / "sig.png")


def test_over_max_pixels_is_refused(tmp_path: Path) -> None:
    noisy_file(tmp_path / "big.png", (100, 100))
    expect_error(tmp_path / "big.png", "100 x 100", max_pixels=1000)


def patched_header(path: Path, width: int, height: int) -> Path:
    """A valid small PNG whose IHDR now claims ``width`` x ``height`` (CRC fixed, pixel data unchanged)."""
    data = bytearray(noisy_file(path, (10, 10)).read_bytes())
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize(("width", "height"), [(9000, 9000), (20000, 20000)])
def test_bomb_header_is_refused_before_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, width: int, height: int
) -> None:
    path = patched_header(tmp_path / "bomb.png", width, height)

    def no_decoding(self: Image.Image) -> None:
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    # 9000 x 9000 passes Pillow's own checks and meets our 64 MP limit; 20000 x 20000 trips Pillow's error.
    expect_error(path, "too large" if width == 20000 else "over the limit")


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="needs POSIX permissions, not root")
def test_unreadable_file(tmp_path: Path) -> None:
    path = noisy_file(tmp_path / "locked.png")
    path.chmod(0)
    try:
        expect_error(path, "permission")
    finally:
        path.chmod(0o644)


def test_permission_denied_on_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = noisy_file(tmp_path / "locked.png")

    def denied(*args: object, **kwargs: object) -> Image.Image:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Image, "open", denied)
    expect_error(path, "permission")


def test_load_truncated_images_is_never_switched_on(tmp_path: Path) -> None:
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    good = noisy_file(tmp_path / "good.jpg")
    load_image(good)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


@pytest.mark.filterwarnings("error::PIL.Image.DecompressionBombWarning")
def test_pillow_bomb_warning_as_error_is_caught(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # 9500 x 9500 is past Pillow's warning threshold (about 89 MP) but under our raised limit.
    path = patched_header(tmp_path / "warn.png", 9500, 9500)
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: pytest.fail("pixels were decoded"))
    expect_error(path, "too large", max_pixels=100_000_000)
