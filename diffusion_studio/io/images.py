"""Load any image a person drops in as a uint8 array, and convert between uint8 arrays and model tensors.

Every failure raises :class:`ImageLoadError` whose text is one sentence naming the file and the problem.
Pillow's global ``ImageFile.LOAD_TRUNCATED_IMAGES`` is never changed: a truncated file is an error.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from diffusion_studio.errors import ImageLoadError, OptionError

ResizeMode = Literal["crop", "fit"]
Colour = tuple[int, int, int]

_SIXTEEN_BIT = {"I;16", "I;16L", "I;16B", "I;16N", "I"}
_WITH_ALPHA = {"RGBA", "RGBa", "LA", "La", "PA"}
# Errors Pillow raises while decoding damaged data (a plugin may raise any of these).
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError)


def load_image(
    path: str | os.PathLike[str],
    size: int | None = None,
    mode: ResizeMode = "crop",
    channels: Literal[1, 3] = 3,
    background: Colour = (255, 255, 255),
    max_pixels: int = 64_000_000,
) -> np.ndarray:
    """Read an image file as a (H, W, channels) uint8 array, upright and without alpha.

    - EXIF orientation is applied, so the picture is shown as the camera meant it.
    - Alpha (RGBA, LA, palette transparency) is composited onto ``background`` (white by default).
    - 16-bit images are scaled from 0..65535 to 0..255; CMYK and other modes are converted to RGB.
    - Animated GIF/WebP/PNG give their first frame; ``channels=1`` gives greyscale ("L").
    - ``size=None`` keeps the size. ``mode="crop"``: scale so the short side is ``size``, then centre-crop
      to ``size`` x ``size`` (for models that need a square input). ``mode="fit"``: scale down (never up)
      so the long side is at most ``size``, keep the aspect, no padding, and round both sides down to
      multiples of 8 (for closed-form models that take any size).
    - Images with more than ``max_pixels`` pixels are refused from their header, before any decoding.
    """
    _check_options(size, mode, channels, background, max_pixels)
    file = Path(path)
    with _open(file, max_pixels) as opened:
        im = _decode(file, opened)
    im = _to_channels(im, channels, background)
    if size is not None:
        im = _resize(im, size, mode)
    arr = np.array(im, dtype=np.uint8)
    return arr[:, :, None] if arr.ndim == 2 else arr


def image_to_tensor(arr: np.ndarray) -> torch.Tensor:
    """(H, W, C) or (H, W) uint8 -> float32 (C, H, W) tensor in [-1, 1]."""
    if arr.dtype != np.uint8 or arr.ndim not in (2, 3):
        raise ValueError(f"expected a (H, W, C) or (H, W) uint8 array, got {arr.dtype} {arr.shape}")
    if arr.ndim == 2:
        arr = arr[:, :, None]
    x = torch.from_numpy(np.array(arr.transpose(2, 0, 1), dtype=np.float32))  # writable copy
    return x / 127.5 - 1.0


def tensor_to_uint8(x: torch.Tensor | np.ndarray, lo: float = -1.0, hi: float = 1.0) -> np.ndarray:
    """(C, H, W), (1, C, H, W) or (H, W) values in [lo, hi] -> (H, W, C) uint8, clamping outside values.

    The default range suits images and x0 predictions; pass e.g. ``lo=-3, hi=3`` to show a noise panel.
    """
    if hi <= lo:
        raise ValueError(f"hi must exceed lo, got lo={lo} hi={hi}")
    t = torch.as_tensor(x).detach().to("cpu", torch.float32)
    if t.ndim == 4 and t.shape[0] == 1:
        t = t[0]
    if t.ndim == 2:
        t = t[None]
    if t.ndim != 3:
        raise ValueError(f"expected (C, H, W), (1, C, H, W) or (H, W), got shape {tuple(t.shape)}")
    t = ((t.clamp(lo, hi) - lo) * (255.0 / (hi - lo))).round()
    return t.to(torch.uint8).permute(1, 2, 0).contiguous().numpy()


def _check_options(size: int | None, mode: str, channels: int, background: Colour, max_pixels: int) -> None:
    if mode not in ("crop", "fit"):
        raise OptionError(f"The resize mode must be 'crop' or 'fit', not {mode!r}.")
    if size is not None and (size < 1 or (mode == "fit" and size < 8)):
        raise OptionError(f"The image size must be at least {8 if mode == 'fit' else 1}, not {size}.")
    if channels not in (1, 3):
        raise OptionError(f"An image must be loaded with 1 or 3 channels, not {channels}.")
    if len(background) != 3 or not all(0 <= int(c) <= 255 for c in background):
        raise OptionError(f"The background must be three values from 0 to 255, not {background!r}.")
    if max_pixels < 1:
        raise OptionError(f"The pixel limit must be positive, not {max_pixels}.")


def _fail(file: Path, problem: str) -> ImageLoadError:
    return ImageLoadError(f"Could not load '{file}': {problem}.")


def _open(file: Path, max_pixels: int) -> Image.Image:
    """Open lazily (header only) and refuse oversized images before any pixel is decoded."""
    try:
        info = file.stat()
    except FileNotFoundError:
        raise _fail(file, "the file does not exist") from None
    except OSError as err:
        raise _fail(file, f"the file cannot be read ({err.strerror or err})") from err
    if stat.S_ISDIR(info.st_mode):
        raise _fail(file, "it is a folder, not an image file")
    if info.st_size == 0:
        raise _fail(file, "the file is empty (0 bytes)")
    try:
        im = Image.open(file)
    except PermissionError:
        raise _fail(file, "permission to read the file was denied") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        # The warning only arrives here when warnings are turned into errors; our own limit is below.
        raise _fail(file, "the image is too large to load safely (it could be a decompression bomb)") from err
    except UnidentifiedImageError:
        raise _fail(file, "it is not an image format that can be read (or it is badly damaged)") from None
    except _DECODE_ERRORS as err:
        raise _fail(file, "the file is damaged") from err
    width, height = im.size
    if width * height > max_pixels:
        im.close()
        raise _fail(file, f"the image is {width} x {height} pixels, over the limit of {max_pixels:,} pixels")
    return im


def _decode(file: Path, im: Image.Image) -> Image.Image:
    """Decode the first frame and turn it upright; a damaged or truncated file is an error."""
    try:
        im.load()
        return ImageOps.exif_transpose(im)
    except _DECODE_ERRORS as err:
        raise _fail(file, "the file is truncated or damaged") from err


def _to_channels(im: Image.Image, channels: int, background: Colour) -> Image.Image:
    """Convert any Pillow mode to "RGB" or "L", compositing alpha onto ``background``."""
    if im.mode in _SIXTEEN_BIT:
        values = np.asarray(im, dtype=np.float64)  # 0..65535 for 16-bit sources
        im = Image.fromarray(np.clip(values * (255.0 / 65535.0) + 0.5, 0, 255).astype(np.uint8), "L")
    elif im.mode == "F":  # float TIFF: 0..1 if it fits there, else taken as 0..255
        values = np.asarray(im, dtype=np.float64)
        values = values * 255.0 if np.nanmax(values, initial=0.0) <= 1.0 else values
        im = Image.fromarray(np.clip(np.nan_to_num(values) + 0.5, 0, 255).astype(np.uint8), "L")
    elif im.mode in _WITH_ALPHA or "transparency" in im.info:  # tRNS on P, L or RGB counts as alpha
        backdrop = Image.new("RGBA", im.size, (*(int(c) for c in background), 255))
        im = Image.alpha_composite(backdrop, im.convert("RGBA"))
    target = "L" if channels == 1 else "RGB"
    return im if im.mode == target else im.convert(target)


def _resize(im: Image.Image, size: int, mode: ResizeMode) -> Image.Image:
    width, height = im.size
    if mode == "crop":
        shrinking = min(width, height) > size
        method = Image.Resampling.LANCZOS if shrinking else Image.Resampling.BICUBIC
        return ImageOps.fit(im, (size, size), method=method, centering=(0.5, 0.5))
    scale = min(1.0, size / max(width, height))
    new = (max(8, round(width * scale) // 8 * 8), max(8, round(height * scale) // 8 * 8))
    if new == im.size:
        return im
    return im.resize(new, Image.Resampling.LANCZOS)
