"""Atomic file writes: write a temp file beside the target, fsync it, then ``os.replace`` it into place.

A reader (or a crash) sees either the old file or the complete new one, never half a GIF.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from diffusion_studio.errors import ExportError

_UMASK = os.umask(0o022)  # read once at import (os.umask has no getter); restored on the next line
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_target(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temp path in the target's folder (same suffix); on success it replaces ``path`` atomically.

    On any exception the temp file is removed, an existing target is left untouched, and the exception is
    re-raised: an ``OSError`` becomes an :class:`ExportError` with one sentence, anything else passes as is.
    """
    target = Path(path)
    folder = target.parent
    if not folder.is_dir():
        raise ExportError(f"Could not write '{target}': the folder '{folder}' does not exist.")
    if target.is_dir():
        raise ExportError(f"Could not write '{target}': a folder with that name already exists.")
    try:
        with tempfile.NamedTemporaryFile(
            dir=folder, prefix=f".{target.name}.", suffix=target.suffix, delete=False
        ) as handle:
            tmp = Path(handle.name)
    except OSError as err:
        raise ExportError(f"Could not write '{target}': {_reason(err)}.") from err
    try:
        yield tmp
        _fsync(tmp)
        os.chmod(tmp, _mode_for(target))  # NamedTemporaryFile makes 0600 files; match a normal save
        os.replace(tmp, target)
    except BaseException as err:
        tmp.unlink(missing_ok=True)
        if isinstance(err, OSError):
            raise ExportError(f"Could not write '{target}': {_reason(err)}.") from err
        raise
    _fsync_folder(folder)


def atomic_write(path: str | os.PathLike[str], write_fn: Callable[[Path], object]) -> Path:
    """Call ``write_fn(temp_path)`` and move the result onto ``path`` atomically; return ``path``."""
    with atomic_target(path) as tmp:
        write_fn(tmp)
    return Path(path)


def _fsync(file: Path) -> None:
    with open(file, "rb+") as handle:
        os.fsync(handle.fileno())


def _fsync_folder(folder: Path) -> None:
    """Persist the rename itself (POSIX); best effort, Windows cannot open folders."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _mode_for(target: Path) -> int:
    try:
        return target.stat().st_mode & 0o7777
    except OSError:
        return 0o666 & ~_UMASK


def _reason(err: OSError) -> str:
    text = err.strerror or str(err) or type(err).__name__
    return text[0].lower() + text[1:].rstrip(".")
