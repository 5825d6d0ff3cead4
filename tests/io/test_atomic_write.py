"""atomic_write: all or nothing, no temp files left behind, one-sentence ExportErrors."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from diffusion_studio.errors import ExportError
from diffusion_studio.io import atomic
from diffusion_studio.io.atomic import atomic_target, atomic_write


def test_writes_the_file_with_a_normal_mode(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    seen: list[Path] = []

    def write(tmp: Path) -> None:
        seen.append(tmp)
        tmp.write_text("hello")

    assert atomic_write(target, write) == target
    assert target.read_text() == "hello"
    assert seen[0].parent == tmp_path and seen[0].suffix == ".txt" and seen[0] != target
    assert os.listdir(tmp_path) == ["out.txt"]
    if sys.platform != "win32":
        assert target.stat().st_mode & 0o777 == 0o666 & ~atomic._UMASK  # not tempfile's 0600


def test_replaces_and_keeps_the_mode_of_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")
    target.chmod(0o640)
    atomic_write(target, lambda tmp: tmp.write_text("new"))
    assert target.read_text() == "new"
    if sys.platform != "win32":
        assert target.stat().st_mode & 0o777 == 0o640


def test_failure_leaves_target_untouched_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")

    def half_then_fail(tmp: Path) -> None:
        tmp.write_text("half a fi")
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        atomic_write(target, half_then_fail)
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["out.txt"]


def test_os_error_becomes_one_sentence_export_error(tmp_path: Path) -> None:
    target = tmp_path / "out.gif"

    def disk_full(tmp: Path) -> None:
        tmp.write_bytes(b"GIF89a")
        raise OSError(28, "No space left on device")

    with pytest.raises(ExportError) as caught:
        atomic_write(target, disk_full)
    message = str(caught.value)
    assert "out.gif" in message and "no space left on device" in message and message.endswith(".")
    assert os.listdir(tmp_path) == []


def test_failure_during_fsync_or_replace_cleans_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")

    def broken_replace(src: object, dst: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(atomic.os, "replace", broken_replace)
    with pytest.raises(ExportError, match="permission denied"):
        atomic_write(target, lambda tmp: tmp.write_text("new"))
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["out.txt"]


def test_missing_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="does not exist"):
        atomic_write(tmp_path / "nope" / "out.gif", lambda tmp: tmp.write_bytes(b""))
    assert not (tmp_path / "nope").exists()


def test_target_that_is_a_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "out.gif").mkdir()
    with pytest.raises(ExportError, match="folder"):
        atomic_write(tmp_path / "out.gif", lambda tmp: tmp.write_bytes(b""))


def test_context_manager_form(tmp_path: Path) -> None:
    with atomic_target(tmp_path / "a.bin") as tmp:
        tmp.write_bytes(b"abc")
        assert not (tmp_path / "a.bin").exists()
    assert (tmp_path / "a.bin").read_bytes() == b"abc"
