"""Run a Python generator on a QThread and hand its items to the GUI thread, one job at a time.

The worker is a QObject moved to its own QThread (Qt's recommended pattern); it never touches widgets. Every
``yield`` becomes a queued signal carrying the job's id, received by :class:`BackgroundJob`, which lives in the GUI
thread and re-emits only the current job's items, so tests and the window always wait on GUI-thread signals.
Stopping sets the cancel token, asks the thread to quit and waits for it: never ``QThread.terminate()``.
"""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Callable, Iterator

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from diffusion_studio.core.cancel import CancelToken
from diffusion_studio.errors import StudioError

FINISHED, CANCELLED, FAILED = "finished", "cancelled", "failed"
JobFactory = Callable[[CancelToken], Iterator[object]]
BATCH_S = 0.008  # a worker sends what it has at most this often (half a screen refresh)
_LIVE_THREADS: set[QThread] = set()  # started and not yet waited for (tests check that none is left)


def live_threads() -> list[QThread]:
    """QThreads started by any :class:`BackgroundJob` that have not been stopped and waited for."""
    return list(_LIVE_THREADS)


def describe_error(err: BaseException) -> str:
    """A sentence for the person: typed errors speak for themselves; anything else names its type."""
    if isinstance(err, StudioError):
        return str(err)
    if isinstance(err, MemoryError):
        return "The computer ran out of memory; try a smaller image or fewer steps."
    return f"Something went wrong ({type(err).__name__}: {err}). The details were printed to the terminal."


class _GeneratorWorker(QObject):
    """Drains the generator, sending its items in small batches: at most one queued signal per ``BATCH_S``.

    A slow generator (a step longer than BATCH_S) sends every item at once; a fast one (a thousand small steps a
    second) sends a few items per signal, so the GUI thread handles tens of events a second, not thousands.
    """

    items = Signal(int, list)
    done = Signal(int, str, str)

    def __init__(self, job_id: int, factory: JobFactory, cancel: CancelToken) -> None:
        super().__init__()
        self._id, self._factory, self._cancel = job_id, factory, cancel

    @Slot()
    def run(self) -> None:
        status, message = FINISHED, ""
        pending: list[object] = []
        last_sent = 0.0
        try:
            for obj in self._factory(self._cancel):
                pending.append(obj)
                now = time.perf_counter()
                if now - last_sent >= BATCH_S:
                    self.items.emit(self._id, pending)
                    pending, last_sent = [], now
                if self._cancel.cancelled:
                    break
            if self._cancel.cancelled:
                status = CANCELLED
        except Exception as err:  # reported to the window, never swallowed: unknown ones are printed too
            if not isinstance(err, StudioError):
                traceback.print_exc(file=sys.stderr)
            status, message = FAILED, describe_error(err)
        if pending:
            self.items.emit(self._id, pending)
        self.done.emit(self._id, status, message)


class BackgroundJob(QObject):
    """One background generator at a time; ``item`` and ``ended`` are emitted in the GUI thread."""

    item = Signal(object)
    ended = Signal(str, str)  # status (finished / cancelled / failed), message

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self._next_id = 0
        self._id = -1
        self._thread: QThread | None = None
        self._worker: _GeneratorWorker | None = None
        self._cancel: CancelToken | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self, factory: JobFactory) -> None:
        """Stop any job still running (waiting for it), then run ``factory(cancel_token)`` on a new thread."""
        self.stop()
        self._next_id += 1
        self._id = self._next_id
        self._cancel = CancelToken()
        thread = QThread()
        thread.setObjectName(f"{self.name}-{self._id}")
        worker = _GeneratorWorker(self._id, factory, self._cancel)
        worker.moveToThread(thread)
        worker.items.connect(self._on_items, Qt.ConnectionType.QueuedConnection)
        worker.done.connect(self._on_done, Qt.ConnectionType.QueuedConnection)
        thread.started.connect(worker.run)
        self._thread, self._worker = thread, worker
        _LIVE_THREADS.add(thread)
        thread.start()

    def cancel(self) -> None:
        """Ask the job to stop; the sampler checks the token before each model call."""
        if self._cancel is not None:
            self._cancel.cancel()

    def stop(self) -> None:
        """Cancel, quit and wait for the thread; emits ``ended("cancelled")`` if the job had not ended."""
        if self._thread is None:
            return
        self.cancel()
        self._finish_thread()
        self._id = -1  # its queued items and end are now stale
        self.ended.emit(CANCELLED, "")

    def _finish_thread(self) -> None:
        # The worker must outlive the thread: QThread.started calls worker.run in the new thread, possibly after
        # this method began. Dropping the last reference first let Qt call run() on a freed object (a segfault).
        thread, worker = self._thread, self._worker
        self._thread = None
        if thread is not None:
            thread.quit()
            thread.wait()
            _LIVE_THREADS.discard(thread)
        self._worker = None  # only now: the thread has finished, so nothing can call into the worker
        del worker

    @Slot(int, list)
    def _on_items(self, job_id: int, objs: list) -> None:
        for obj in objs:
            if job_id != self._id:  # a slot below stopped this job: the rest is stale
                return
            self.item.emit(obj)

    @Slot(int, str, str)
    def _on_done(self, job_id: int, status: str, message: str) -> None:
        if job_id != self._id:
            return
        self._finish_thread()
        self._id = -1
        self.ended.emit(status, message)
