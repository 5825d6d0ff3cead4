"""One sampling run at a time: prepare it, stream it on a worker, store its frames, refresh at screen rate.

The worker thread adds every step to the :class:`FrameStore` itself (the step's float tensors, copied into the
store's block with no conversion: see :mod:`diffusion_studio.session.frame_store` and ``docs/recording.md``);
nothing crosses to the GUI thread per step. A 16 ms timer in the GUI thread
emits ``refreshed`` when the store has grown since the last tick, and the window then converts and paints only the
newest frame. So the GUI thread's work per refresh is the same whether one step or a hundred arrived.

A refresh (converting three pictures, repainting the canvas, timeline and labels) costs the GUI thread a few
milliseconds of CPU, which on a busy machine comes out of the sampler's share of the cores. A :class:`RefreshPacer`
therefore spends at most ``GUI_SHARE`` of one core on the GUI thread while a run streams: at most once per screen
refresh when painting is cheap, less often when it is not (the newest step is always what is painted).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, QTimer, Signal

from diffusion_studio.app.worker import FAILED, BackgroundJob
from diffusion_studio.core.plan import SamplingPlan
from diffusion_studio.core.schedules import Schedule
from diffusion_studio.runs import PreparedRun, RunRequest, prepare_run
from diffusion_studio.session.frame_store import FrameStore, record
from diffusion_studio.session.frames import (
    Notice,
    StepFrames,
    count_frames,
    describe_device,
    frame_bytes,
    raw_frame_bytes,
    stream_frames,
)

REFRESH_MS = 16  # the fastest refresh: once per screen refresh at 60 Hz
GUI_SHARE = 0.05  # while a run streams, the GUI thread uses at most this share of one core (measured CPU time)


class RefreshPacer:
    """A token bucket of GUI-thread CPU time: ``share`` of each wall-clock second, spent by whatever the thread did.

    ``ready()`` is asked once per timer tick; it charges the CPU time the thread used since the last tick (the
    previous refresh's painting included) and says whether there is credit left for another refresh. The credit is
    capped at ``cap_s`` both ways: a quiet spell does not buy a burst of refreshes later, and one long piece of work
    (starting a run, a dialog) delays the next refresh by at most ``cap_s / share``.
    """

    def __init__(self, share: float = GUI_SHARE, cap_s: float = 0.01,
                 wall: Callable[[], float] = time.perf_counter, cpu: Callable[[], float] = time.thread_time) -> None:
        self.share, self.cap_s, self._wall, self._cpu = share, cap_s, wall, cpu
        self.restart()

    def restart(self) -> None:
        """Full credit from now on (call in the thread whose CPU time is paced)."""
        self._credit = self.cap_s
        self._last = (self._wall(), self._cpu())

    def ready(self) -> bool:
        wall, cpu = self._wall(), self._cpu()
        last_wall, last_cpu = self._last
        self._last = (wall, cpu)
        credit = self._credit + self.share * (wall - last_wall) - (cpu - last_cpu)
        self._credit = max(-self.cap_s, min(credit, self.cap_s))
        return self._credit >= 0


@dataclass(frozen=True)
class RunInfo:
    """What the window needs to know about the run on screen (frozen when it starts)."""

    model: str
    schedule: Schedule
    plan: SamplingPlan
    timesteps: list[int]
    planned: list[int]  # the timeline positions the run will fill: its timesteps and the finished picture (-1)
    t_prevs: dict[int, int]
    steps: int
    device: str
    shape: tuple[int, int, int]


class RunSession(QObject):
    """Owns the sampling job and the recorded frames. All signals are emitted in the GUI thread."""

    started = Signal()
    refreshed = Signal()
    noticed = Signal(str)
    ended = Signal(str, str)  # status, message

    def __init__(self, prepare: Callable[[RunRequest], PreparedRun] = prepare_run,
                 store: FrameStore | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.prepare = prepare
        self.store = store if store is not None else FrameStore()
        self.info: RunInfo | None = None
        self._seen = 0  # store.received at the last refresh
        self._job = BackgroundJob("sampler", self)
        self._job.item.connect(self._on_item)
        self._job.ended.connect(self._on_ended)
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self._tick)
        self.pacer = RefreshPacer()

    @property
    def running(self) -> bool:
        return self._job.running

    def start(self, request: RunRequest) -> RunInfo:
        """Prepare (may raise a StudioError: nothing changes then), stop any run in progress, start this one."""
        prepared = self.prepare(request)
        self.stop()
        timesteps = prepared.plan.timesteps(prepared.schedule)
        self.info = RunInfo(
            model=prepared.model.info.name, schedule=prepared.schedule, plan=prepared.plan, timesteps=timesteps,
            planned=[*timesteps, -1], t_prevs=dict(zip(timesteps, [*timesteps[1:], -1], strict=True)),
            steps=len(timesteps), device=describe_device(prepared.device), shape=prepared.shape,
        )
        shape, store = prepared.shape, self.store
        store.reset(count_frames(prepared), frame_bytes(shape), raw_frame_bytes(shape, prepared.plan.batch))
        self._seen = 0
        self._job.start(lambda cancel: record(store, stream_frames(prepared, cancel)))
        self.pacer.restart()
        self._timer.start()
        self.started.emit()
        return self.info

    def cancel(self) -> None:
        """Ask the run to stop before its next model call (what was recorded stays)."""
        self._job.cancel()

    def stop(self) -> None:
        """Cancel and wait for the worker thread (used before a new run and when the window closes)."""
        self._job.stop()

    @property
    def latest(self) -> StepFrames | None:
        """The newest frame of the run (what a view following the run shows)."""
        return self.store.latest

    @property
    def received(self) -> int:
        """Frames the worker has recorded so far in this run."""
        return self.store.received

    def _on_item(self, obj: object) -> None:
        """Only notices cross over (the frames go straight into the store): e.g. the run restarted on the CPU."""
        if isinstance(obj, Notice):
            if obj.restart and self.info is not None:
                self.info = RunInfo(**{**self.info.__dict__, "device": obj.device or self.info.device})
            self.noticed.emit(obj.text)

    def _tick(self) -> None:
        if self.pacer.ready() or self._seen == 0:  # the first frame shows at once
            self._flush()

    def _flush(self) -> None:
        received = self.store.received
        if received != self._seen:
            self._seen = received
            self.refreshed.emit()

    def _on_ended(self, status: str, message: str) -> None:
        self._timer.stop()
        self._flush()
        if status == FAILED and not message:
            message = "The run stopped for an unknown reason."
        self.ended.emit(status, message)

    @property
    def steps_done(self) -> int:
        """Model steps completed (the finished-image frame is not a step)."""
        latest = self.latest
        if latest is None:
            return 0
        return min(latest.index + 1, latest.steps)
