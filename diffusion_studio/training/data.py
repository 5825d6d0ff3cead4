"""Training data: a folder of images or an ``.npz`` of uint8 arrays, checked and held as one uint8 array.

Folder: every image file below it (png, jpg, jpeg, bmp, gif, webp, tif, tiff). With classes, each image
sits in a subfolder whose name is its class (classes sorted by name). Without ``size`` all images must share
one size; with ``size`` each is scaled so its short side is ``size`` and centre-cropped to a square.

``.npz`` (read with ``allow_pickle=False``): ``x`` (N, H, W) or (N, H, W, C) uint8 with C in {1, 3}; optional
``y`` (N,) integer labels 0..K-1 and ``classes`` (K,) strings. With ``size`` differing from H (or H != W)
images are scaled and centre-cropped by the same rule as a folder.

Every problem raises :class:`DataError` with one sentence that names the file.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from diffusion_studio.errors import DataError, ImageLoadError
from diffusion_studio.io.images import load_image

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


@dataclass(frozen=True)
class Dataset:
    """``images`` (N, H, W, C) uint8, H == W; ``labels`` (N,) int64 or None; ``class_names`` for labels."""

    images: np.ndarray
    labels: np.ndarray | None
    class_names: tuple[str, ...]
    source: str

    @property
    def size(self) -> int:
        return int(self.images.shape[1])

    @property
    def channels(self) -> int:
        return int(self.images.shape[3])

    def __len__(self) -> int:
        return int(self.images.shape[0])


def load_dataset(
    path: str | Path, size: int | None = None, channels: int | None = None, with_labels: bool = False
) -> Dataset:
    """Read a folder of images or an ``.npz``; ``with_labels`` requires labels (subfolders or ``y``)."""
    path = Path(path).expanduser()
    if size is not None and size < 4:
        raise DataError(f"The training image size must be at least 4 pixels, not {size}.")
    if channels not in (None, 1, 3):
        raise DataError(f"Training images need 1 or 3 channels, not {channels}.")
    if path.is_dir():
        data = _load_folder(path, size, channels or 3, with_labels)
    elif path.is_file() and path.suffix.lower() == ".npz":
        data = _load_npz(path, size, channels, with_labels)
    elif path.exists():
        raise DataError(f"The training data {path} is neither a folder of images nor an .npz file.")
    else:
        raise DataError(f"The training data {path} does not exist.")
    if data.images.shape[1] != data.images.shape[2]:
        h, w = data.images.shape[1:3]
        raise DataError(f"The images in {path} are {w} x {h}; give --size to crop them to squares.")
    return data


def _load_folder(folder: Path, size: int | None, channels: int, with_labels: bool) -> Dataset:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DataError(f"The folder {folder} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))}).")
    class_names: tuple[str, ...] = ()
    labels = None
    if with_labels:
        loose = [p for p in files if p.parent == folder]
        if loose:
            raise DataError(
                f"For class labels every image must sit in a subfolder named after its class, "
                f"but {loose[0].name} is directly in {folder}."
            )
        class_names = tuple(sorted({p.relative_to(folder).parts[0] for p in files}))
        index = {name: i for i, name in enumerate(class_names)}
        labels = np.array([index[p.relative_to(folder).parts[0]] for p in files], dtype=np.int64)
    images = []
    for p in files:
        try:
            images.append(load_image(p, size=size, mode="crop", channels=channels))
        except ImageLoadError as err:
            raise DataError(f"The training image {p} could not be read: {_reason(err)}.") from None
        if size is None and images[-1].shape != images[0].shape:
            a, b = images[0].shape, images[-1].shape
            raise DataError(
                f"The images in {folder} differ in size ({files[0].name} is {a[1]} x {a[0]}, {p.name} is "
                f"{b[1]} x {b[0]}); give --size to scale and centre-crop them all to one square size."
            )
    return Dataset(np.stack(images), labels, class_names, str(folder))


def _reason(err: ImageLoadError) -> str:
    text = str(err).rstrip(".")
    return text.split(": ", 1)[1] if ": " in text else text


def _load_npz(path: Path, size: int | None, channels: int | None, with_labels: bool) -> Dataset:
    try:
        with np.load(path, allow_pickle=False) as npz:
            if "x" not in npz.files:
                raise DataError(
                    f"{path} has no array 'x' of images (it has {', '.join(npz.files) or 'nothing'})."
                )
            x = npz["x"]
            y = npz["y"] if "y" in npz.files else None
            classes = npz["classes"] if "classes" in npz.files else None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise DataError(f"{path} is not a readable .npz file without pickled objects ({err}).") from None
    x = _check_images(path, x)
    labels, class_names = None, ()
    if with_labels:
        if y is None:
            raise DataError(f"{path} has no array 'y' of class labels, which training with classes needs.")
        labels, class_names = _check_labels(path, y, classes, len(x))
    if channels is not None and channels != x.shape[3]:
        x = _convert_channels(x, channels)
    if size is not None and (x.shape[1] != size or x.shape[2] != size):
        x = np.stack([_crop_resize(im, size) for im in x])
    return Dataset(np.ascontiguousarray(x), labels, class_names, str(path))


def _check_images(path: Path, x: np.ndarray) -> np.ndarray:
    if x.dtype != np.uint8:
        raise DataError(f"The images 'x' in {path} must be uint8 (0..255), not {x.dtype}.")
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[3] not in (1, 3) or x.shape[0] == 0:
        raise DataError(
            f"The images 'x' in {path} must be shaped (N, H, W) or (N, H, W, 1|3), not {x.shape}."
        )
    return x


def _check_labels(
    path: Path, y: np.ndarray, classes: np.ndarray | None, n: int
) -> tuple[np.ndarray, tuple[str, ...]]:
    if y.ndim != 1 or len(y) != n:
        raise DataError(f"The labels 'y' in {path} must be one per image ({n}), not shaped {y.shape}.")
    if not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"The labels 'y' in {path} must be whole numbers, not {y.dtype}.")
    if classes is not None:
        if classes.ndim != 1 or classes.dtype.kind not in "US":
            raise DataError(f"The class names 'classes' in {path} must be a list of strings.")
        names = tuple(str(c) for c in classes)
    else:
        names = tuple(str(i) for i in range(int(y.max()) + 1)) if n else ()
    low, high = int(y.min()), int(y.max())
    if low < 0 or high >= len(names):
        bad = low if low < 0 else high
        raise DataError(f"The labels 'y' in {path} must be 0..{len(names) - 1}, but one is {bad}.")
    if len(names) < 2:
        raise DataError(f"Training with classes needs at least 2 classes, but {path} has {len(names)}.")
    return y.astype(np.int64), names


def _convert_channels(x: np.ndarray, channels: int) -> np.ndarray:
    """Grey <-> RGB: grey is repeated, RGB is reduced with ITU-R 601 luma (as Pillow's "L")."""
    if channels == 3:
        return np.repeat(x, 3, axis=3)
    luma = x.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return np.clip(luma + 0.5, 0, 255).astype(np.uint8)[..., None]


def _crop_resize(im: np.ndarray, size: int) -> np.ndarray:
    """The folder rule for one (H, W, C) uint8 image: scale the short side to ``size``, centre-crop."""
    pil = Image.fromarray(im[..., 0] if im.shape[2] == 1 else im)
    method = Image.Resampling.LANCZOS if min(pil.size) > size else Image.Resampling.BICUBIC
    out = np.asarray(ImageOps.fit(pil, (size, size), method=method, centering=(0.5, 0.5)))
    return out[..., None] if out.ndim == 2 else out
