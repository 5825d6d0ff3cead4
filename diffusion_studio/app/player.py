"""The strip across the bottom of the window: play/pause, loop and speed, the timeline, a box that shows and
takes an exact t, and where the playhead is."""

from __future__ import annotations

import time

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSpinBox, QStyle, QToolButton, QWidget

from diffusion_studio.app.timeline import Timeline

SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0)
SECONDS_AT_1X = 6.0  # 1x plays the whole timeline in about this long
TICK_MS = 30


class PlayerBar(QWidget):
    """Transport controls around a :class:`Timeline`. ``positionChanged`` fires for scrubbing and playback."""

    positionChanged = Signal(int)
    playingChanged = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.timeline = Timeline()
        self.play_button = QToolButton()
        self.play_button.setCheckable(True)
        self.play_button.setToolTip("Play / pause (Space)")
        self.loop_button = QToolButton()
        self.loop_button.setCheckable(True)
        self.loop_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_BrowserReload))
        self.loop_button.setToolTip("Loop playback")
        self.speed = QComboBox()
        for s in SPEEDS:
            self.speed.addItem(f"{s:g}×", s)
        self.speed.setCurrentIndex(SPEEDS.index(1.0))
        self.speed.setToolTip(f"Playback speed: 1× plays the whole timeline in about {SECONDS_AT_1X:g} s")
        self.t_box = QSpinBox()
        self.t_box.setRange(-1, self.timeline.t_max)
        self.t_box.setSpecialValueText("x₀")
        self.t_box.setPrefix("t = ")
        self.t_box.setKeyboardTracking(False)  # typing "512" goes to 512, not through 5 and 51
        self.t_box.setToolTip("The playhead's t: type a value and press Enter (−1 or x₀ is the clean end). "
                              "In the reverse view it snaps to the nearest recorded step.")
        self.t_box.setAccessibleName("Exact t")
        self.where = QLabel()
        # a fixed width: a text that changes length on every frame must not re-lay out the strip each time
        self.where.setFixedWidth(self.where.fontMetrics().horizontalAdvance("step 1000/1000   ·   t = 1000  ") + 8)
        self.where.setObjectName("playhead-label")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        for w in (self.play_button, self.loop_button, self.speed):
            layout.addWidget(w)
        layout.addWidget(self.timeline, 1)
        layout.addWidget(self.t_box)
        layout.addWidget(self.where)
        self.reverse_play = True  # reverse view plays towards the clean end; forward view towards noise
        self._timer = QTimer(self)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)
        self._clock = 0.0
        self._carry = 0.0
        self.play_button.toggled.connect(self._on_play_toggled)
        self.timeline.playToggled.connect(self.play_button.toggle)
        self.timeline.positionChanged.connect(self.positionChanged)
        self.timeline.moved.connect(self._sync_box)
        self.t_box.valueChanged.connect(self._on_box)
        self._update_icon()

    @property
    def playing(self) -> bool:
        return self._timer.isActive()

    def set_playing(self, on: bool) -> None:
        self.play_button.setChecked(on)

    def set_where(self, text: str) -> None:
        self.where.setText(text)

    def set_range(self, t_max: int) -> None:
        """The timeline's and the t box's range: t_max .. -1."""
        self.timeline.set_range(t_max)
        blocked = self.t_box.blockSignals(True)
        self.t_box.setMaximum(self.timeline.t_max)
        self.t_box.setValue(self.timeline.t)
        self.t_box.blockSignals(blocked)

    def _sync_box(self, t: int) -> None:
        if self.t_box.value() != t:
            blocked = self.t_box.blockSignals(True)
            self.t_box.setValue(t)
            self.t_box.blockSignals(blocked)

    def _on_box(self, t: int) -> None:
        self.timeline.set_t(t, emit=True)
        self._sync_box(self.timeline.t)  # snapped in the reverse view

    def _on_play_toggled(self, on: bool) -> None:
        if on:
            order = self._order()
            if order and self.timeline.t == order[-1]:  # at the end: start again from the beginning
                self.timeline.set_t(order[0], emit=True)
            self._clock, self._carry = time.perf_counter(), 0.0
            self._timer.start()
        else:
            self._timer.stop()
        self._update_icon()
        self.playingChanged.emit(on)

    def _update_icon(self) -> None:
        icons = QStyle.StandardPixmap
        pixmap = icons.SP_MediaPause if self.play_button.isChecked() else icons.SP_MediaPlay
        self.play_button.setIcon(self.style().standardIcon(pixmap))

    def _order(self) -> list[int]:
        order = self.timeline.positions()
        return order if self.reverse_play else order[::-1]

    def _tick(self) -> None:
        order = self._order()
        if len(order) < 2:
            self.set_playing(False)
            return
        now = time.perf_counter()
        rate = len(order) / SECONDS_AT_1X * float(self.speed.currentData())  # positions per second
        self._carry += (now - self._clock) * rate
        self._clock = now
        advance = int(self._carry)
        if advance < 1:
            return
        self._carry -= advance
        here = self.timeline.t
        i = order.index(here) if here in order else 0
        target = i + advance
        if target >= len(order):
            if not self.loop_button.isChecked():
                self.timeline.set_t(order[-1], emit=True)
                self.set_playing(False)
                return
            target %= len(order)
        self.timeline.set_t(order[target], emit=True)
