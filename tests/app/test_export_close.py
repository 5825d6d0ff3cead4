"""Closing the window during an export: the file is written and said to be, or it is not and the old one stays."""

from __future__ import annotations

import threading
import time

import diffusion_studio.session.export_plan as exporting
from diffusion_studio.app.exporting import ExportRequest
from diffusion_studio.io.gif import GifOptions


def _request(tmp_path):
    return ExportRequest(path=tmp_path / "out.gif", panes=(0,), frame_count=4,
                         options=GifOptions(fps=20, scale=1, direction="noise", label=False))


def test_closing_during_the_write_reports_the_written_file(make_window, qtbot, tmp_path, monkeypatch):
    w = make_window()
    writing = threading.Event()
    real_export_gif = exporting.export_gif

    def slow_export_gif(*args, **kwargs):
        writing.set()
        time.sleep(0.3)  # the window closes (and cancels) while the atomic write is under way
        return real_export_gif(*args, **kwargs)

    monkeypatch.setattr(exporting, "export_gif", slow_export_gif)
    ended: list[tuple[str, str]] = []
    w.exportEnded.connect(lambda status, message: ended.append((status, message)))
    req = _request(tmp_path)
    assert w.start_export(w.export_source(), req)
    qtbot.waitUntil(writing.is_set, timeout=20000)
    w.close()
    assert req.path.is_file(), "the write that had begun completed"
    assert ended == [("finished", "")]
    assert w.status.message.text().startswith("Wrote out.gif")


def test_closing_before_the_write_keeps_the_old_file_and_says_cancelled(make_window, qtbot, tmp_path, monkeypatch):
    w = make_window()
    req = _request(tmp_path)
    req.path.write_bytes(b"the old file")
    gathering = threading.Event()
    source = w.export_source()
    real_frame = exporting.ExportSource.frame

    def slow_frame(self, i, panes):
        gathering.set()
        time.sleep(0.1)
        return real_frame(self, i, panes)

    monkeypatch.setattr(exporting.ExportSource, "frame", slow_frame)
    monkeypatch.setattr(exporting, "export_gif", lambda *a, **k: (_ for _ in ()).throw(AssertionError("wrote")))
    ended: list[tuple[str, str]] = []
    w.exportEnded.connect(lambda status, message: ended.append((status, message)))
    assert w.start_export(source, req)
    qtbot.waitUntil(gathering.is_set, timeout=20000)
    w.close()
    assert ended == [("cancelled", "")]
    assert req.path.read_bytes() == b"the old file"
    assert w.status.message.text() == "Export cancelled."
