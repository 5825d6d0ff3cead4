"""Run by test_worker_stress.py in a child process, so a crash (segfault) fails the test instead of killing pytest.

Usage: python stress_worker_script.py jobs N | chain N
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication  # noqa: E402

from diffusion_studio.app.worker import BackgroundJob, live_threads  # noqa: E402


def _steps(cancel):
    for i in range(3):
        if cancel.cancelled:
            return
        yield i


def stress_jobs(n: int) -> None:
    """Start and at once stop a job, n times: the thread may not yet have called the worker's run."""
    job = BackgroundJob("stress")
    for _ in range(n):
        job.start(_steps)
        job.stop()
    QApplication.processEvents()


def stress_chain(n: int) -> None:
    """Toggle the chained forward view and resample its noise, n times (it restarts a worker each time)."""
    import tempfile
    from pathlib import Path

    from diffusion_studio.app.main_window import MainWindow
    from diffusion_studio.app.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        window = MainWindow(Settings(Path(tmp) / "settings.ini"))
        window.controls.size.setValue(32)
        window.controls.sizeChanged.emit(32)
        window.controls.T.setValue(50)
        for _ in range(n):
            window.set_chain_visible(True)
            window.resample_noise()
            window.set_chain_visible(False)
        QApplication.processEvents()
        window.close()


if __name__ == "__main__":
    app = QApplication([])
    kind, count = sys.argv[1], int(sys.argv[2])
    {"jobs": stress_jobs, "chain": stress_chain}[kind](count)
    left = live_threads()
    print(f"ok {kind} {count} left={len(left)}")
    sys.exit(1 if left else 0)
