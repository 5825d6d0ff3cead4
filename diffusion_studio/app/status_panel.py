"""The status bar: what is happening, progress with steps/s and time left, Cancel, and the device in use."""

from __future__ import annotations

import time

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QStatusBar, QWidget


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} min {secs:02d} s"


class StatusPanel(QStatusBar):
    """Permanent widgets on a QStatusBar; :meth:`progress` is cheap enough to call on every repaint tick."""

    cancelRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.message = QLabel("Ready")
        self.note = QLabel()
        self.note.setObjectName("hint")
        self.bar = QProgressBar()
        self.bar.setFixedWidth(220)
        self.bar.setTextVisible(True)
        self.bar.hide()
        self.rate = QLabel()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the run after the current step (Esc); the frames so far are kept")
        self.cancel_button.hide()
        self.device = QLabel()
        self.device.setToolTip("Where the model runs")
        self.addWidget(self.message, 1)
        self.addPermanentWidget(self.note)
        self.addPermanentWidget(self.bar)
        self.addPermanentWidget(self.rate)
        self.addPermanentWidget(self.cancel_button)
        self.addPermanentWidget(self.device)
        self.cancel_button.clicked.connect(self.cancelRequested)
        self._started = 0.0
        self._total = 0

    def say(self, text: str) -> None:
        self.message.setText(text)

    def set_device(self, text: str) -> None:
        self.device.setText(f"  Device: {text}")

    def set_note(self, text: str) -> None:
        self.note.setText(text)
        self.note.setToolTip(text)

    def begin(self, total: int, label: str) -> None:
        """A run of ``total`` steps starts: show the bar and Cancel."""
        self._started = time.perf_counter()
        self._total = max(total, 1)
        self.bar.setRange(0, self._total)
        self.bar.setValue(0)
        self.bar.setFormat(f"%v/{self._total}")
        self.bar.show()
        self.cancel_button.show()
        self.cancel_button.setEnabled(True)
        self.rate.setText("")
        self.say(label)

    def progress(self, done: int) -> None:
        """``done`` steps so far: update the bar, steps/s and time left."""
        self.bar.setValue(min(done, self._total))
        elapsed = time.perf_counter() - self._started
        if done > 0 and elapsed > 0:
            rate = done / elapsed
            left = (self._total - done) / rate
            self.rate.setText(f"{rate:.0f} steps/s · {_duration(left)} left")

    def busy(self, label: str) -> None:
        """An open-ended background task (export): an indeterminate bar, no Cancel."""
        self.bar.setRange(0, 0)
        self.bar.show()
        self.cancel_button.hide()
        self.rate.setText("")
        self.say(label)

    def end(self, text: str) -> None:
        self.bar.hide()
        self.cancel_button.hide()
        self.rate.setText("")
        self.say(text)

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self._started
