"""The timeline: t from T-1 (left, pure noise) to the clean picture (right), painted with QPainter.

Positions run over t = T-1 .. 0 and one more, t = -1, the clean end (abar_{-1} = 1): the loaded picture in the
forward view and the finished sample in the reverse view. In the reverse view the playhead snaps to recorded
steps, which are drawn as ticks (steps the run will visit but has not reached yet are drawn faintly).
Keys: Left/Right one position, PageUp/PageDown ten, Home/End the ends, Space play/pause.

The axis is t, evenly, or log-SNR (:meth:`Timeline.set_axis`): lambda_t = log(abar_t / (1 - abar_t)) rising from
the noisy left, with the clean end (lambda = +inf) in a small slot at the right. Either way the playhead takes
whole t (a drag picks the t whose position is nearest). Under the track a thin row shows where the plan's model
calls fall (:meth:`Timeline.set_placement`): its steps in blue, Heun's second calls in orange below them, at their
exact log-SNR (or model time on the t axis).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QKeyEvent, QMouseEvent, QPainter, QPainterPath, QPalette, QPen, QPixmap
from PySide6.QtWidgets import QSizePolicy, QWidget

from diffusion_studio.core.placement import CallKind, Placement, nearest_index

MARGIN = 16
ACCENT = QColor("#3d8fe0")
START_COLOUR = QColor("#e08a1e")
CORRECTION_COLOUR = QColor("#e08a1e")
CLEAN_SLOT = 0.04  # log-SNR axis: the share of the track right of lambda_0 where the clean end (+inf) sits
CALL_ROW = 12  # pixels under the track for the model-call ticks (two rows of 5 px)
TIP = "Drag to scrub through t. Keys: ← → step, PgUp/PgDn ×10, Home/End ends, Space play/pause"


class Timeline(QWidget):
    """A draggable playhead over t; emits ``positionChanged(t)`` only for the person's own moves."""

    positionChanged = Signal(int)
    playToggled = Signal()
    moved = Signal(int)  # every change of the playhead, the person's or the program's

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.t_max = 999
        self._t = -1
        self._marks: list[int] = []  # recorded timesteps, ascending
        self._planned: list[int] = []
        self.snap = False
        self._span_cache: tuple[tuple, list] = ((), [])  # (width, t_max, count) -> spans of recorded ticks
        self._background_cache: tuple[tuple, QPixmap | None] = ((), None)
        self._planned_key = 0
        self._recorded_is_prefix = False
        self._strip_cache: tuple[tuple, QPixmap | None] = ((), None)
        self._given: tuple[Sequence[int] | None, Sequence[int] | None] = (None, None)
        self.start_mark: int | None = None  # SDEdit's t0: where a run from a picture starts
        self._lam: np.ndarray | None = None  # log-SNR axis: lambda_t for t = 0..t_max (None: the t axis)
        self._axis_key = 0
        self.placement: Placement | None = None
        self._placement_key = 0
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumHeight(2 * self.fontMetrics().height() + 30 + CALL_ROW)
        self.setToolTip(TIP)
        self.setAccessibleName("Timeline")

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(600, 2 * self.fontMetrics().height() + 32 + CALL_ROW)

    # ----------------------------------------------------------------------------------------------- model
    @property
    def t(self) -> int:
        return self._t

    def set_range(self, t_max: int) -> None:
        """Positions t_max .. -1; the playhead is clamped into them."""
        self.t_max = max(0, int(t_max))
        clamped = max(-1, min(self._t, self.t_max))
        self.update()
        if clamped != self._t:
            self._t = clamped
            self.moved.emit(clamped)

    def set_marks(self, recorded: Sequence[int], planned: Sequence[int] = ()) -> None:
        """Recorded and planned timesteps (any order). Passing the very same sequences again costs nothing."""
        if recorded is self._given[0] and planned is self._given[1]:
            return
        self._given = (recorded, planned)
        marks, planned = sorted(set(recorded)), sorted(set(planned))
        if marks == self._marks and planned == self._planned:
            return
        self._marks, self._planned = marks, planned
        self._planned_key = hash(tuple(planned))
        # recorded == every planned step from the newest recorded one up (a run in progress that keeps all)
        first = bisect.bisect_left(planned, marks[0]) if marks else 0
        self._recorded_is_prefix = bool(marks) and planned[first:] == marks
        self._span_cache = ((), [])
        self.update()

    def set_axis(self, log_snr: np.ndarray | None) -> None:
        """The log-SNR axis with lambda_t of t = 0..t_max (a falling table; e.g. ``schedule.log_snr``), or the
        plain t axis (None). A table that does not match the range (t_max + 1 values) shows the t axis."""
        lam = None if log_snr is None else np.asarray(log_snr, dtype=np.float64)
        key = 0 if lam is None else hash(lam.tobytes())
        if key == self._axis_key:
            return
        self._lam, self._axis_key = lam, key
        self._span_cache = ((), [])
        self.update()

    @property
    def axis(self) -> str:
        """"log_snr" when the track is laid out by log-SNR, else "t"."""
        return "log_snr" if self._on_snr() else "t"

    def set_placement(self, placement: Placement | None) -> None:
        """Show where a plan's model calls fall, in the row under the track (None: nothing)."""
        self.placement = placement
        self._placement_key = 0 if placement is None else hash(
            (placement.label, placement.log_snr.tobytes(), placement.time.tobytes(), placement.kind))
        self.setToolTip(TIP if placement is None else
                        f"{TIP}\nUnder the track: the model calls of {placement.label} (blue: steps, "
                        "orange: Heun's second calls)")
        self.update()

    def set_start_mark(self, t0: int | None) -> None:
        """Mark SDEdit's start t0 (None: no mark)."""
        if t0 != self.start_mark:
            self.start_mark = t0
            self.update()

    @property
    def marks(self) -> list[int]:
        return list(self._marks)

    def positions(self) -> list[int]:
        """Every position the playhead may take, in play order for the reverse process (t descending)."""
        if self.snap:
            return self._marks[::-1]
        return list(range(self.t_max, -2, -1))

    def set_t(self, t: int, emit: bool = False) -> None:
        """Move the playhead (snapped and clamped); ``emit`` sends ``positionChanged`` when it moved."""
        t = self._snapped(max(-1, min(int(t), self.t_max)))
        if t == self._t:
            return
        self._t = t
        self.update()
        self.moved.emit(t)
        if emit:
            self.positionChanged.emit(t)

    def _snapped(self, t: int) -> int:
        if not self.snap or not self._marks:
            return t
        i = bisect.bisect_left(self._marks, t)
        near = [self._marks[j] for j in (i - 1, i) if 0 <= j < len(self._marks)]
        u = self._u(t)
        return min(near, key=lambda m: (abs(self._u(m) - u), m))  # nearest on the axis shown

    def step(self, count: int) -> None:
        """Move ``count`` positions to the right (towards the clean end); negative moves left."""
        order = self.positions()
        if not order:
            return
        i = min(range(len(order)), key=lambda k: abs(order[k] - self._t))
        self.set_t(order[max(0, min(len(order) - 1, i + count))], emit=True)

    # ----------------------------------------------------------------------------------------------- geometry
    def _track(self) -> QRectF:
        top = self.fontMetrics().height() + 8
        return QRectF(MARGIN, top, max(1, self.width() - 2 * MARGIN), 12)

    def _on_snr(self) -> bool:
        lam = self._lam
        return lam is not None and len(lam) == self.t_max + 1 and self.t_max > 0 and lam[0] > lam[-1]

    def _u_snr(self, lam: np.ndarray | float) -> np.ndarray:
        """Fraction of the track of a log-SNR: lambda_{t_max} at 0, lambda_0 at 1 - CLEAN_SLOT, +inf at 1."""
        lo, hi = float(self._lam[-1]), float(self._lam[0])
        lam = np.asarray(lam, dtype=np.float64)
        return np.where(np.isposinf(lam), 1.0, (lam - lo) / (hi - lo) * (1.0 - CLEAN_SLOT))

    def _u_array(self, ts: np.ndarray) -> np.ndarray:
        """Fraction of the track of whole t (t = -1, the clean end, at 1)."""
        ts = np.asarray(ts, dtype=np.int64)
        if not self._on_snr():
            return (self.t_max - ts) / (self.t_max + 1)
        lam = np.where(ts < 0, np.inf, self._lam[np.clip(ts, 0, self.t_max)])
        return self._u_snr(lam)

    def _u(self, t: int) -> float:
        return float(self._u_array(np.array([t]))[0])

    def x_of(self, t: float) -> float:
        track = self._track()
        if self._on_snr():
            return track.left() + self._u(round(t)) * track.width()
        return track.left() + (self.t_max - t) / (self.t_max + 1) * track.width()

    def x_of_log_snr(self, lam: float) -> float:
        """Where a log-SNR sits on the track (on the t axis: at the t with the nearest lambda_t)."""
        track = self._track()
        if self._on_snr():
            return track.left() + float(self._u_snr(lam)) * track.width()
        return self.x_of(nearest_index(self._lam, lam)) if self._lam is not None else track.left()

    def t_at(self, x: float) -> int:
        track = self._track()
        frac = (x - track.left()) / track.width()
        if self._on_snr():
            if frac >= 1.0 - CLEAN_SLOT / 2:
                return -1
            lo, hi = float(self._lam[-1]), float(self._lam[0])
            return nearest_index(self._lam, lo + frac / (1.0 - CLEAN_SLOT) * (hi - lo))
        return round(self.t_max - frac * (self.t_max + 1))

    # ----------------------------------------------------------------------------------------------- events
    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if event.button() == Qt.MouseButton.LeftButton:
            self.setFocus()
            self.set_t(self.t_at(event.position().x()), emit=True)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if event.buttons() & Qt.MouseButton.LeftButton:
            self.set_t(self.t_at(event.position().x()), emit=True)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        key = event.key()
        moves = {Qt.Key.Key_Right: 1, Qt.Key.Key_Left: -1, Qt.Key.Key_PageDown: 10, Qt.Key.Key_PageUp: -10}
        if key in moves:
            self.step(moves[key])
        elif key == Qt.Key.Key_Home:
            order = self.positions()
            if order:
                self.set_t(order[0], emit=True)
        elif key == Qt.Key.Key_End:
            order = self.positions()
            if order:
                self.set_t(order[-1], emit=True)
        elif key == Qt.Key.Key_Space:
            self.playToggled.emit()
        else:
            super().keyPressEvent(event)

    # ----------------------------------------------------------------------------------------------- painting
    def paintEvent(self, event) -> None:  # noqa: N802 - Qt override
        """A cached background (groove, planned steps, labels), then the recorded steps and the playhead."""
        p = QPainter(self)
        track = self._track()
        p.drawPixmap(0, 0, self._background(track))
        if self._recorded_is_prefix and self._marks:
            # the usual case: every planned step down to the newest one is recorded, so the recorded ticks are
            # the planned ticks over a range of x, blitted in full colour from a cached strip
            left = round(self.x_of(self._marks[-1])) - 1
            right = round(self.x_of(self._marks[0])) + 1
            strip = self._tick_strip(track)
            ratio = strip.devicePixelRatio()
            source = QRectF(left * ratio, 0, (right - left + 1) * ratio, strip.height())
            p.drawPixmap(QRectF(left, track.top(), right - left + 1, track.height()), strip, source)
        else:
            for left, right in self._recorded_spans(track):
                p.fillRect(QRectF(left, track.top() + 2, right - left + 1, track.height() - 4), ACCENT)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        if self.hasFocus():
            p.setPen(QPen(ACCENT, 1, Qt.PenStyle.DotLine))
            p.drawRoundedRect(QRectF(self.rect()).adjusted(1, 1, -1, -1), 4, 4)
        self._paint_playhead(p, track)
        p.end()

    def _background(self, track: QRectF) -> QPixmap:
        """Everything that changes only with the size, the range or the run's plan, drawn once into a pixmap."""
        ratio = self.devicePixelRatioF()
        key = (self.width(), self.height(), ratio, self.t_max, self._planned_key, self.palette().cacheKey(),
               self.font().key(), self.start_mark, self._axis_key, self._placement_key)
        if self._background_cache[0] == key:
            return self._background_cache[1]
        pixmap = QPixmap(round(self.width() * ratio), round(self.height() * ratio))
        pixmap.setDevicePixelRatio(ratio)
        pixmap.fill(Qt.GlobalColor.transparent)
        p = QPainter(pixmap)
        p.setFont(self.font())
        pal = self.palette()
        groove = QPainterPath()
        groove.addRoundedRect(track, 4, 4)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillPath(groove, pal.color(QPalette.ColorRole.Base))
        p.setPen(QPen(pal.color(QPalette.ColorRole.Mid), 1))
        p.drawPath(groove)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        faint = QColor(ACCENT)
        faint.setAlpha(60)
        for left, right in self._spans(self._planned, track):
            p.fillRect(QRectF(left, track.top() + 2, right - left + 1, track.height() - 4), faint)
        self._paint_calls(p, track)
        self._paint_labels(p, track, pal.color(QPalette.ColorRole.WindowText))
        if self.start_mark is not None and 0 <= self.start_mark <= self.t_max:
            x = self.x_of(self.start_mark)
            p.setRenderHint(QPainter.RenderHint.Antialiasing)
            p.setPen(QPen(START_COLOUR, 2))
            p.drawLine(QPointF(x, track.top() - 6), QPointF(x, track.bottom()))
            p.setBrush(START_COLOUR)
            p.drawPolygon([QPointF(x - 5, track.top() - 11), QPointF(x + 5, track.top() - 11),
                           QPointF(x, track.top() - 5)])
        p.end()
        self._background_cache = (key, pixmap)
        return pixmap

    def _tick_strip(self, track: QRectF) -> QPixmap:
        """The planned ticks in full colour, as wide as the widget and as tall as the track."""
        ratio = self.devicePixelRatioF()
        key = (self.width(), ratio, self.t_max, self._planned_key, self._axis_key)
        if self._strip_cache[0] != key:
            strip = QPixmap(round(self.width() * ratio), round(track.height() * ratio))
            strip.setDevicePixelRatio(ratio)
            strip.fill(Qt.GlobalColor.transparent)
            p = QPainter(strip)
            for left, right in self._spans(self._planned, track):
                p.fillRect(QRectF(left, 2, right - left + 1, track.height() - 4), ACCENT)
            p.end()
            self._strip_cache = (key, strip)
        return self._strip_cache[1]

    def _recorded_spans(self, track: QRectF) -> list[tuple[int, int]]:
        key = (self.width(), self.t_max, len(self._marks), self._axis_key)
        if self._span_cache[0] != key:
            self._span_cache = (key, self._spans(self._marks, track))
        return self._span_cache[1]

    def _spans(self, marks: list[int], track: QRectF) -> list[tuple[int, int]]:
        """Pixel columns of ticks (ascending t) as (first, last) runs of neighbouring columns: a 1000-step run
        is a few rectangles, not 1000 lines."""
        if not marks:
            return []
        ts = np.asarray(marks, dtype=np.int64)[::-1]  # descending t: ascending x
        return pixel_runs(np.round(track.left() + self._u_array(ts) * track.width()).astype(int))

    def call_columns(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Pixel columns of the placement's model calls as (first, last) runs: (steps, Heun's corrections)."""
        p, track = self.placement, self._track()
        if p is None or not p.calls:
            return [], []
        if self._on_snr():
            u = self._u_snr(p.log_snr)
        else:
            u = (self.t_max - np.clip(p.time, -1, self.t_max)) / (self.t_max + 1)
        xs = np.round(track.left() + u * track.width()).astype(int)
        if p.calls * 6 < track.width():  # few calls: ticks two pixels wide, easier to see
            xs = np.concatenate([xs, xs + 1])
            first = np.tile(p.mask(CallKind.STEP), 2)
        else:
            first = p.mask(CallKind.STEP)
        return pixel_runs(np.unique(xs[first])), pixel_runs(np.unique(xs[~first]))

    def _paint_calls(self, p: QPainter, track: QRectF) -> None:
        steps, corrections = self.call_columns()
        top = track.bottom() + 2
        dense = self.placement is not None and self.placement.calls * 6 >= track.width()
        blue = QColor(ACCENT)
        blue.setAlpha(110 if dense else 255)  # a call at (nearly) every pixel: a lighter band, not a heavy bar
        for colour, spans, y in ((blue, steps, top), (CORRECTION_COLOUR, corrections, top + CALL_ROW / 2)):
            for left, right in spans:
                p.fillRect(QRectF(left, y, right - left + 1, CALL_ROW / 2 - 1), colour)

    def captions(self) -> list[tuple[QRectF, str, bool]]:
        """Every text the timeline draws as (rectangle, text, muted), laid out so that none overlap.

        Tick values are thinned to the width; the two end captions fall back to short forms, then to nothing,
        when the widget is too narrow for them.
        """
        fm = self.fontMetrics()
        track = self._track()
        placed: list[tuple[QRectF, str, bool]] = []

        def fits(rect: QRectF) -> bool:
            return rect.left() >= 0 and rect.right() <= self.width() and not any(
                rect.adjusted(-4, 0, 4, 0).intersects(r) for r, _, _ in placed)

        y = track.bottom() + 4 + CALL_ROW
        end = "x₀"
        end_rect = QRectF(self.x_of(-1) - fm.horizontalAdvance(end) / 2, y, fm.horizontalAdvance(end), fm.height())
        end_rect.moveRight(min(end_rect.right(), self.width() - 1))
        placed.append((end_rect, end, False))
        on_snr = self._on_snr()
        label_w = fm.horizontalAdvance("−10" if on_snr else str(self.t_max)) + 12
        target = max(1, min(6, int(track.width() // max(label_w * 2, 1))))
        if on_snr:  # (x, label) of round log-SNR values, lowest (noisiest) first
            ticks = [(self.x_of_log_snr(v), signed(v)) for v in nice_values(self._lam[-1], self._lam[0], target)]
        else:
            ticks = [(self.x_of(t), str(t)) for t in sorted(_nice_ticks(self.t_max, target), reverse=True)]
        for x, label in ticks:
            w = fm.horizontalAdvance(label)
            rect = QRectF(x - w / 2, y, w, fm.height())
            rect.moveLeft(max(0.0, rect.left()))
            if fits(rect):
                placed.append((rect, label, False))
        top = track.top() - 7 - fm.ascent()
        if self.start_mark is not None and 0 <= self.start_mark <= self.t_max:
            text = f"t₀ = {self.start_mark}"
            w = fm.horizontalAdvance(text)
            rect = QRectF(self.x_of(self.start_mark) + 8, top, w, fm.height())
            if rect.right() > self.width():
                rect.moveRight(self.x_of(self.start_mark) - 8)
            if fits(rect):
                placed.append((rect, text, False))
        ends = (("← pure noise  (t = T−1)", "clean picture (t = −1) →"), ("← noise", "clean →"))
        if on_snr:
            low = signed(round(float(self._lam[-1]), 1))
            ends = ((f"← pure noise  (log-SNR λ = {low})", "clean picture (λ = +∞) →"),
                    ("← noise  (log-SNR λ)", "clean →"), ("← λ", "→"))
        for left, right in ends:
            lw, rw = fm.horizontalAdvance(left), fm.horizontalAdvance(right)
            lrect = QRectF(MARGIN, top, lw, fm.height())
            rrect = QRectF(self.width() - MARGIN - rw, top, rw, fm.height())
            if lrect.right() + 12 < rrect.left() and fits(lrect) and fits(rrect):
                placed += [(lrect, left, True), (rrect, right, True)]
                break
        return placed

    def _paint_labels(self, p: QPainter, track: QRectF, colour: QColor) -> None:
        muted = QColor(colour)
        muted.setAlpha(150)
        ascent = p.fontMetrics().ascent()
        for rect, text, faint in self.captions():
            p.setPen(muted if faint else colour)
            p.drawText(QPointF(rect.left(), rect.top() + ascent), text)

    def _paint_playhead(self, p: QPainter, track: QRectF) -> None:
        x = self.x_of(self._t)
        red = QColor("#e0563d")
        p.setPen(QPen(red, 2))
        p.drawLine(QPointF(x, track.top() - 5), QPointF(x, track.bottom() + 5))
        p.setPen(QPen(QColor("white"), 1.5))
        p.setBrush(red)
        p.drawEllipse(QPointF(x, track.center().y()), 6.5, 6.5)


def _nice_ticks(t_max: int, target: int = 6) -> list[int]:
    """Round tick values between t_max and 0 (always both ends)."""
    raw = max(1, t_max // target)
    magnitude = 10 ** (len(str(raw)) - 1)
    step = min((m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw), default=raw)
    ticks = list(range(0, t_max, step))
    if ticks and t_max - ticks[-1] < step / 2:
        ticks.pop()
    return [*ticks, t_max]


def pixel_runs(xs: np.ndarray) -> list[tuple[int, int]]:
    """Ascending pixel columns as (first, last) runs of neighbouring columns: 1000 ticks are a few rectangles."""
    if len(xs) == 0:
        return []
    breaks = np.flatnonzero(np.diff(xs) > 1)
    starts = np.concatenate(([xs[0]], xs[breaks + 1]))
    ends = np.concatenate((xs[breaks], [xs[-1]]))
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def nice_values(lo: float, hi: float, target: int = 6) -> list[float]:
    """Round values (multiples of 1, 2, 5, 10 ...) between lo and hi, about ``target`` of them."""
    raw = max((hi - lo) / max(target, 1), 1e-9)
    magnitude = 10 ** np.floor(np.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = np.ceil(lo / step) * step
    return [float(v) for v in np.arange(first, hi + 1e-9, step)]


def signed(v: float) -> str:
    """A tick value with a real minus sign ("−5", "0", "2.5")."""
    return f"{v:g}".replace("-", "−")
