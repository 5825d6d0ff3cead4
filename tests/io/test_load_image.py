"""load_image on every kind of file a person might drop in, plus the tensor helpers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, features

from diffusion_studio.errors import OptionError
from diffusion_studio.io.images import image_to_tensor, load_image, tensor_to_uint8

RED, GREEN, BLUE = (220, 30, 30), (30, 200, 60), (40, 50, 210)


def quadrants(height: int = 48, width: int = 80) -> np.ndarray:
    """An asymmetric picture: four flat colour blocks plus a white stripe along the top-left edge."""
    a = np.zeros((height, width, 3), np.uint8)
    a[: height // 2, : width // 2] = RED
    a[: height // 2, width // 2 :] = GREEN
    a[height // 2 :, : width // 2] = BLUE
    a[height // 2 :, width // 2 :] = (240, 200, 20)
    a[:8, :24] = 255
    return a


# What a viewer must do to show each EXIF orientation upright (the EXIF 2.3 table).
UPRIGHT = {
    2: lambda x: x[:, ::-1],
    3: lambda x: x[::-1, ::-1],
    4: lambda x: x[::-1],
    5: lambda x: x.transpose(1, 0, 2),
    6: lambda x: np.rot90(x, -1),
    7: lambda x: np.rot90(x, 2).transpose(1, 0, 2),
    8: lambda x: np.rot90(x, 1),
}


def save_with_orientation(arr: np.ndarray, path: Path, orientation: int) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(arr).save(path, exif=exif, **({"quality": 95} if path.suffix == ".jpg" else {}))


@pytest.mark.parametrize("orientation", range(2, 9))
def test_exif_orientation_png_is_shown_upright(tmp_path: Path, orientation: int) -> None:
    src = quadrants()
    save_with_orientation(src, tmp_path / "o.png", orientation)
    out = load_image(tmp_path / "o.png")
    np.testing.assert_array_equal(out, UPRIGHT[orientation](src))


@pytest.mark.parametrize("orientation", range(2, 9))
def test_exif_orientation_jpeg_is_shown_upright(tmp_path: Path, orientation: int) -> None:
    src = quadrants()
    save_with_orientation(src, tmp_path / "o.jpg", orientation)
    out = load_image(tmp_path / "o.jpg").astype(int)
    expected = UPRIGHT[orientation](src).astype(int)
    assert out.shape == expected.shape
    assert np.abs(out - expected).mean() < 6  # JPEG blurs the block edges a little


def test_orientation_1_and_no_exif_are_unchanged(tmp_path: Path) -> None:
    src = quadrants()
    save_with_orientation(src, tmp_path / "one.png", 1)
    Image.fromarray(src).save(tmp_path / "none.png")
    np.testing.assert_array_equal(load_image(tmp_path / "one.png"), src)
    np.testing.assert_array_equal(load_image(tmp_path / "none.png"), src)


@pytest.mark.parametrize(
    ("name", "array", "mode"),
    [
        ("g16.png", np.full((8, 8), 30000, np.uint16), None),
        ("g16.tif", np.full((8, 8), 30000, np.uint16), None),
        ("g16b.tif", np.full((8, 8), 30000, ">u2"), "I;16B"),
        ("g32.tif", np.full((8, 8), 30000, np.int32), "I"),
    ],
)
def test_sixteen_bit_images_scale_to_mid_grey(
    tmp_path: Path, name: str, array: np.ndarray, mode: str | None
) -> None:
    image = Image.fromarray(array) if mode is None else Image.frombytes(mode, (8, 8), array.tobytes())
    image.save(tmp_path / name)
    out = load_image(tmp_path / name)
    assert out.shape == (8, 8, 3)
    assert np.all(out == round(30000 / 65535 * 255))  # 117: mid grey, not clipped to white


def test_sixteen_bit_gradient_keeps_its_range(tmp_path: Path) -> None:
    ramp = np.linspace(0, 65535, 256).astype(np.uint16)[None].repeat(4, axis=0)
    Image.fromarray(ramp).save(tmp_path / "ramp.png")
    out = load_image(tmp_path / "ramp.png", channels=1)[0, :, 0].astype(int)
    assert out[0] == 0 and out[-1] == 255
    assert np.all(np.diff(out) >= 0)


def test_rgba_is_composited_on_white_by_default(tmp_path: Path) -> None:
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[:, :2] = (255, 0, 0, 0)  # fully transparent red
    rgba[:, 2:] = (0, 0, 255, 128)  # half-transparent blue
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    out = load_image(tmp_path / "a.png").astype(int)
    assert np.all(out[:, :2] == 255)
    np.testing.assert_allclose(out[0, 3], [127, 127, 255], atol=2)
    black = load_image(tmp_path / "a.png", background=(0, 0, 0))
    assert np.all(black[:, :2] == 0)


def test_la_is_composited(tmp_path: Path) -> None:
    la = np.zeros((4, 4, 2), np.uint8)
    la[..., 0] = 10
    la[:, :2, 1] = 255
    Image.fromarray(la, "LA").save(tmp_path / "la.png")
    out = load_image(tmp_path / "la.png")
    assert np.all(out[:, :2] == 10) and np.all(out[:, 2:] == 255)


def test_palette_with_transparency_is_composited(tmp_path: Path) -> None:
    image = Image.new("P", (6, 6), 0)
    image.putpalette([0, 0, 0, 200, 0, 0] + [0] * 762)
    image.paste(1, (0, 0, 3, 6))
    image.save(tmp_path / "p.png", transparency=0)
    image.save(tmp_path / "p.gif", transparency=0)
    for name in ("p.png", "p.gif"):
        out = load_image(tmp_path / name)
        assert tuple(out[0, 0]) == (200, 0, 0), name
        assert tuple(out[0, 5]) == (255, 255, 255), name  # transparent, not black


def test_cmyk_jpeg_becomes_rgb(tmp_path: Path) -> None:
    Image.new("CMYK", (16, 16), (0, 255, 255, 0)).save(tmp_path / "cmyk.jpg", quality=95)
    out = load_image(tmp_path / "cmyk.jpg")
    assert out.shape == (16, 16, 3)
    np.testing.assert_allclose(out[8, 8].astype(int), [255, 0, 0], atol=8)


@pytest.mark.parametrize("name", ["grey.png", "grey.jpg", "one_bit.png"])
def test_greyscale_loads_as_rgb_or_one_channel(tmp_path: Path, name: str) -> None:
    grey = np.tile(np.array([0, 255], np.uint8).repeat(8), (16, 1))
    image = Image.fromarray(grey, "L")
    (image.convert("1") if name.startswith("one") else image).save(tmp_path / name)
    rgb = load_image(tmp_path / name)
    assert rgb.shape == (16, 16, 3) and np.array_equal(rgb[..., 0], rgb[..., 2])
    one = load_image(tmp_path / name, channels=1)
    assert one.shape == (16, 16, 1)
    assert one[0, 0, 0] < 10 and one[0, 15, 0] > 245


def test_rgb_loads_as_greyscale(tmp_path: Path) -> None:
    Image.new("RGB", (4, 4), (255, 0, 0)).save(tmp_path / "r.png")
    out = load_image(tmp_path / "r.png", channels=1)
    assert out.shape == (4, 4, 1) and out[0, 0, 0] == 76  # ITU-R 601-2 luma of pure red


@pytest.mark.parametrize("name", ["anim.gif", "anim.webp", "anim.png"])
def test_animated_image_gives_first_frame(tmp_path: Path, name: str) -> None:
    if name.endswith("webp") and not features.check("webp"):
        pytest.skip("Pillow was built without WebP")
    first, second = Image.new("RGB", (16, 16), (250, 0, 0)), Image.new("RGB", (16, 16), (0, 0, 250))
    first.save(tmp_path / name, save_all=True, append_images=[second], duration=100, lossless=True)
    assert Image.open(tmp_path / name).n_frames == 2
    out = load_image(tmp_path / name).astype(int)
    np.testing.assert_allclose(out[8, 8], [250, 0, 0], atol=6)


@pytest.mark.parametrize("name", ["p.webp", "p.bmp", "p.tif", "p.png", "p.jpg"])
def test_common_formats(tmp_path: Path, name: str) -> None:
    if name.endswith("webp") and not features.check("webp"):
        pytest.skip("Pillow was built without WebP")
    src = quadrants()
    Image.fromarray(src).save(tmp_path / name, **({"lossless": True} if name.endswith("webp") else {}))
    out = load_image(tmp_path / name)
    assert out.dtype == np.uint8 and out.shape == src.shape
    assert np.abs(out.astype(int) - src).mean() < 6


def test_accepts_str_paths(tmp_path: Path) -> None:
    Image.new("RGB", (4, 4)).save(tmp_path / "s.png")
    assert load_image(str(tmp_path / "s.png")).shape == (4, 4, 3)


def three_bands(path: Path) -> np.ndarray:
    """300 x 200: red | green | blue bands, the green one 220 px wide in the middle."""
    a = np.zeros((200, 300, 3), np.uint8)
    a[:, :40], a[:, 40:260], a[:, 260:] = RED, GREEN, BLUE
    Image.fromarray(a).save(path)
    return a


def test_crop_scales_short_side_then_centre_crops(tmp_path: Path) -> None:
    three_bands(tmp_path / "b.png")
    out = load_image(tmp_path / "b.png", size=64, mode="crop").astype(int)
    assert out.shape == (64, 64, 3)
    assert np.abs(out - GREEN).max() < 16  # the side bands were cropped away


def test_crop_upscales_small_images(tmp_path: Path) -> None:
    Image.new("RGB", (20, 10), GREEN).save(tmp_path / "small.png")
    assert load_image(tmp_path / "small.png", size=32).shape == (32, 32, 3)


def test_fit_keeps_aspect_and_rounds_to_multiples_of_8(tmp_path: Path) -> None:
    three_bands(tmp_path / "b.png")
    out = load_image(tmp_path / "b.png", size=100, mode="fit")
    assert out.shape == (64, 96, 3)  # 100 x 67 rounded down to multiples of 8
    assert tuple(out[32, 2]) != tuple(out[32, 48])  # nothing cropped: the red band is still there


def test_fit_never_upscales(tmp_path: Path) -> None:
    Image.new("RGB", (50, 30), GREEN).save(tmp_path / "small.png")
    assert load_image(tmp_path / "small.png", size=256, mode="fit").shape == (24, 48, 3)


def test_no_size_keeps_size(tmp_path: Path) -> None:
    Image.new("RGB", (37, 23)).save(tmp_path / "odd.png")
    assert load_image(tmp_path / "odd.png").shape == (23, 37, 3)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"mode": "pad"},
        {"size": 0},
        {"size": 4, "mode": "fit"},
        {"channels": 2},
        {"background": (0, 0)},
        {"background": (0, 0, 300)},
        {"max_pixels": 0},
    ],
)
def test_bad_options_raise_option_error(tmp_path: Path, kwargs: dict) -> None:
    Image.new("RGB", (4, 4)).save(tmp_path / "s.png")
    with pytest.raises(OptionError, match=r"\.$"):
        load_image(tmp_path / "s.png", **kwargs)


def test_image_to_tensor_range_shape_and_round_trip() -> None:
    arr = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    x = image_to_tensor(arr)
    assert x.shape == (3, 5, 7) and x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1
    assert image_to_tensor(np.array([[0, 255]], np.uint8)).tolist() == [[[-1.0, 1.0]]]
    np.testing.assert_array_equal(tensor_to_uint8(x), arr)
    np.testing.assert_array_equal(tensor_to_uint8(x[None]), arr)


def test_tensor_to_uint8_clamps_and_takes_a_range() -> None:
    x = torch.tensor([[[-5.0, 0.0, 5.0]]])
    assert tensor_to_uint8(x)[0, :, 0].tolist() == [0, 128, 255]
    assert tensor_to_uint8(x, lo=-5, hi=5)[0, :, 0].tolist() == [0, 128, 255]
    assert tensor_to_uint8(torch.zeros(2, 3)).shape == (2, 3, 1)
    with pytest.raises(ValueError):
        tensor_to_uint8(torch.zeros(2, 2, 3, 4))
    with pytest.raises(ValueError):
        image_to_tensor(np.zeros((2, 2), np.float32))
