"""Argument types and checks shared by every command: bad input is refused with one sentence before any work.

The ``argparse`` type functions here (``whole``, ``number``, ``seed``, ``output_file``, ``output_folder``...)
raise :class:`argparse.ArgumentTypeError`, which the CLI prints as one ``error: --option ...`` line with exit
code 2. Checks that need more than one option (memory, picture size) raise :class:`OptionError`.

A new command reuses them: ``p.add_argument("--steps", type=whole(1, 4000), default=50)``.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable, Iterable
from pathlib import Path

from diffusion_studio.errors import OptionError

SEED_MAX = 2**64 - 1  # torch.Generator.manual_seed takes 0 .. 2**64 - 1 (negatives wrap around)
MAX_PICTURE_SIDE = 16384  # pixels: any GIF/PNG/sheet wider or taller than this is refused
GIB = 1024**3
MIN_FPS = 0.1  # a GIF stores a frame's delay in 1/100 s as 16 bits (at most 655 s); 10 s a frame is plenty


def _fmt(v: float) -> str:
    return f"{v:,}" if isinstance(v, int) else f"{v:g}"


def _range_text(lo: float | None, hi: float | None, lo_open: bool = False, hi_open: bool = False) -> str:
    if lo is not None and hi is not None:
        if not lo_open and not hi_open:
            return f"from {_fmt(lo)} to {_fmt(hi)}"
        left = f"above {_fmt(lo)}" if lo_open else f"at least {_fmt(lo)}"
        right = f"below {_fmt(hi)}" if hi_open else f"at most {_fmt(hi)}"
        return f"{left} and {right}"
    if lo is not None:
        return f"{'above' if lo_open else 'at least'} {_fmt(lo)}"
    if hi is not None:
        return f"{'below' if hi_open else 'at most'} {_fmt(hi)}"
    return "finite"


def whole(lo: int | None = None, hi: int | None = None) -> Callable[[str], int]:
    """A type accepting a whole number in [lo, hi] (either bound may be None)."""

    def parse(text: str) -> int:
        what = f"must be a whole number {_range_text(lo, hi)}"
        try:
            value = int(str(text).strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what}, not '{text}'.") from None
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(f"{what}, not {text}.")
        return value

    parse.__name__ = "whole number"
    return parse


def number(
    lo: float | None = None, hi: float | None = None, *, lo_open: bool = False, hi_open: bool = False
) -> Callable[[str], float]:
    """A type accepting a finite number in [lo, hi] (``lo_open``/``hi_open`` exclude the bound); never NaN/inf."""

    def parse(text: str) -> float:
        what = f"must be a number {_range_text(lo, hi, lo_open, hi_open)}"
        try:
            value = float(str(text).strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what}, not '{text}'.") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{what}, not {text} (it must be finite).")
        below = lo is not None and (value <= lo if lo_open else value < lo)
        above = hi is not None and (value >= hi if hi_open else value > hi)
        if below or above:
            raise argparse.ArgumentTypeError(f"{what}, not {text}.")
        return value

    parse.__name__ = "number"
    return parse


seed = whole(0, SEED_MAX)
seed.__doc__ = "A random seed: a whole number from 0 to 2**64 - 1 (what torch.Generator.manual_seed accepts)."


def output_file(text: str) -> Path:
    """A file to write: its folder exists and is writable, and the path is not a folder."""
    path = Path(text).expanduser()
    if not str(text).strip():
        raise argparse.ArgumentTypeError("needs a file name.")
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"'{text}' is a folder; give a file name.")
    folder = path.parent
    if not folder.is_dir():
        raise argparse.ArgumentTypeError(f"cannot write '{text}': the folder '{folder}' does not exist.")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"cannot write '{text}': the folder '{folder}' is not writable.")
    return path


def output_folder(text: str) -> Path:
    """A folder to write into (created if needed): not an existing file, and its nearest existing parent is a
    writable folder (a read-only file system counts as not writable)."""
    path = Path(text).expanduser()
    if not str(text).strip():
        raise argparse.ArgumentTypeError("needs a folder name.")
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"'{text}' is a file, not a folder; choose a folder to write the model into.")
    probe = path
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise argparse.ArgumentTypeError(f"cannot create '{text}': '{probe}' is a file, not a folder.")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"cannot write into '{text}': '{probe}' is not writable.")
    return path


def existing_path(text: str) -> Path:
    """A file or folder that exists."""
    path = Path(text).expanduser()
    if not path.exists():
        raise argparse.ArgumentTypeError(f"'{text}' does not exist.")
    return path


def choices_list(allowed: Iterable[str]) -> Callable[[str], tuple[str, ...]]:
    """A type for a comma-separated, non-empty list of names from ``allowed``."""
    allowed = tuple(allowed)

    def parse(text: str) -> tuple[str, ...]:
        names = tuple(p.strip() for p in str(text).split(",") if p.strip())
        bad = [n for n in names if n not in allowed]
        if bad or not names:
            raise argparse.ArgumentTypeError(f"takes names from {','.join(allowed)}, comma-separated; not '{text}'.")
        return names

    parse.__name__ = "list"
    return parse


def number_list(lo: float, hi: float) -> Callable[[str], tuple[float, ...]]:
    """A type for a comma-separated, non-empty list of finite numbers in [lo, hi] (e.g. timesteps)."""
    one = number(lo, hi)

    def parse(text: str) -> tuple[float, ...]:
        parts = [p for p in str(text).split(",") if p.strip()]
        if not parts:
            raise argparse.ArgumentTypeError(f"takes comma-separated numbers {_range_text(lo, hi)}; not '{text}'.")
        try:
            return tuple(one(p) for p in parts)
        except argparse.ArgumentTypeError:
            raise argparse.ArgumentTypeError(
                f"takes comma-separated numbers {_range_text(lo, hi)}; not '{text}'."
            ) from None

    parse.__name__ = "list"
    return parse


def distinct_outputs(**paths: Path | None) -> None:
    """Two outputs of one command must not be the same file (the second would replace the first)."""
    seen: dict[Path, str] = {}
    for option, path in paths.items():
        if path is None:
            continue
        key = Path(os.path.abspath(path))
        if key in seen:
            raise OptionError(f"--{seen[key]} and --{option} name the same file '{path}'; give each its own.")
        seen[key] = option


def free_memory_bytes() -> int:
    """Memory available to a new allocation: MemAvailable on Linux, else physical memory (best effort)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 1 << 62  # unknown: do not refuse


def check_memory(needed: float, what: str, advice: str, available: int | None = None) -> None:
    """Refuse a job whose estimate ``needed`` (bytes) exceeds the memory available now, with a sentence."""
    free = free_memory_bytes() if available is None else available
    if needed > free:
        raise OptionError(
            f"{what} needs about {needed / GIB:,.1f} GB of memory, but about {free / GIB:,.1f} GB is free; {advice}."
        )


def check_picture(width: float, height: float, what: str, advice: str) -> None:
    """Refuse an output picture larger than :data:`MAX_PICTURE_SIDE` on either side."""
    if max(width, height) > MAX_PICTURE_SIDE:
        raise OptionError(
            f"{what} would be {int(width):,} x {int(height):,} pixels, over the limit of {MAX_PICTURE_SIDE:,} "
            f"pixels a side; {advice}."
        )
