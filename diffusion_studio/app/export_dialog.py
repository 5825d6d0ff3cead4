"""Export dialog: range, panes, frames, timing, size and caption, with a live estimate of what will be written."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from diffusion_studio.app.exporting import SPACINGS, ExportRequest, ExportSource, estimate
from diffusion_studio.io.gif import GifOptions

ESTIMATE_DELAY_MS = 150
DIRECTIONS = (("as on the timeline (left → right)", "denoise"), ("reversed", "noise"), ("there and back", "both"))


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{max(n, 1000) / 1e3:.0f} kB"


def _spin(lo: int, hi: int, value: int, suffix: str = "", special: str = "") -> QSpinBox:
    box = QSpinBox()
    box.setRange(lo, hi)
    box.setValue(value)
    box.setSuffix(suffix)
    if special:
        box.setSpecialValueText(special)
    return box


class ExportDialog(QDialog):
    """``mode`` 'gif' or 'sheet' (a contact sheet has no timing or looping). :meth:`request` reads it."""

    def __init__(self, source: ExportSource, mode: str, path: Path, playhead_t: int,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.source, self.mode = source, mode
        self.setWindowTitle("Export GIF" if mode == "gif" else "Export contact sheet")
        t_max = max(source.ts)
        form = QFormLayout()
        self.path_edit = QLineEdit(str(path))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.path_edit, 1)
        row.addWidget(browse)
        form.addRow("File", row)
        self.t_from = _spin(-1, t_max, t_max, special="x₀")
        self.t_to = _spin(-1, t_max, -1, special="x₀")
        to_playhead = QPushButton("Up to the playhead")
        to_playhead.clicked.connect(lambda: self.t_to.setValue(max(playhead_t, -1)))
        rng = QHBoxLayout()
        for w in (QLabel("from t ="), self.t_from, QLabel("to t ="), self.t_to, to_playhead):
            rng.addWidget(w)
        form.addRow("Range", rng)
        # Qt's common sans fonts drop a combining hat on an upright letter (v̂ showed as v); the words say it
        self.panes = [QCheckBox(name.replace("\u0302", "")) for name in source.pane_names]
        panes_row = QHBoxLayout()
        for box in self.panes:
            box.setChecked(True)
            panes_row.addWidget(box)
        form.addRow("Panes", panes_row)
        self.by_count = QRadioButton("about")
        self.by_stride = QRadioButton("one in every")
        group = QButtonGroup(self)
        group.addButton(self.by_count)
        group.addButton(self.by_stride)
        self.by_count.setChecked(True)
        self.count = _spin(2, 5000, 100 if mode == "gif" else 12, " frames")
        self.stride = _spin(1, 1000, 10, " frames")
        frames_row = QHBoxLayout()
        for w in (self.by_count, self.count, self.by_stride, self.stride):
            frames_row.addWidget(w)
        form.addRow("Frames", frames_row)
        self.spacing = QComboBox()
        for value, text in SPACINGS.items():
            if value != "x0" or source.kind == "reverse":
                self.spacing.addItem(text, value)
        self.spacing.setToolTip("How “about N frames” are spread over the range. Evenly in t, most frames of a "
                                "linear schedule are pure noise; evenly in log-SNR (or in how much x̂₀ changes) "
                                "they follow the picture as it forms.")
        form.addRow("Spacing", self.spacing)
        side = max(source.frame(0, (0,))[0].shape[:2])
        self.scale = _spin(1, 16, max(1, 256 // max(side, 1)), "×")
        form.addRow("Scale", self.scale)
        self.label = QCheckBox("Write t and the run's settings under each frame")
        self.label.setChecked(True)
        self.label.setToolTip(source.note or "Write t under each frame")
        self.titles = QCheckBox("Name each pane above it")
        self.titles.setChecked(True)
        caption = QHBoxLayout()
        caption.addWidget(self.label)
        caption.addWidget(self.titles)
        form.addRow("Caption", caption)
        self.fps = _spin(1, 50, 20, " fps")
        self.loop = QComboBox()
        self.loop.addItem("forever", 0)
        self.loop.addItem("play once", None)
        self.hold = _spin(0, 10000, 1500, " ms")
        self.hold.setSingleStep(250)
        self.direction = QComboBox()
        for text, value in DIRECTIONS:
            self.direction.addItem(text, value)
        if source.kind == "forward":
            self.direction.setCurrentIndex(1)  # the forward process plays from the picture into noise
        self.columns = _spin(0, 50, 0, special="auto")
        if mode == "gif":
            form.addRow("Speed", self.fps)
            form.addRow("Loop", self.loop)
            form.addRow("Hold last frame", self.hold)
            form.addRow("Order", self.direction)
        else:
            form.addRow("Columns", self.columns)
        self.estimate_label = QLabel()
        self.estimate_label.setObjectName("hint")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.save_button = buttons.button(QDialogButtonBox.StandardButton.Save)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.estimate_label)
        layout.addWidget(buttons)
        for w in (self.t_from, self.t_to, self.count, self.stride, self.scale, self.fps, self.hold, self.columns):
            w.valueChanged.connect(self._update_estimate)
        for w in (*self.panes, self.by_count, self.by_stride, self.label, self.titles):
            w.toggled.connect(self._update_estimate)
        for w in (self.loop, self.direction, self.spacing):
            w.currentIndexChanged.connect(self._update_estimate)
        self.path_edit.textChanged.connect(self._update_estimate)
        self._estimate_timer = QTimer(self)  # encoding sample frames takes a moment: once typing pauses
        self._estimate_timer.setSingleShot(True)
        self._estimate_timer.setInterval(ESTIMATE_DELAY_MS)
        self._estimate_timer.timeout.connect(self.update_estimate_now)
        self.update_estimate_now()

    def request(self) -> ExportRequest:
        options = GifOptions(
            fps=float(self.fps.value()), scale=self.scale.value(), loop=self.loop.currentData(),
            hold_last_ms=self.hold.value(), label=self.label.isChecked(), direction=self.direction.currentData(),
        )
        return ExportRequest(
            path=Path(self.path_edit.text()).expanduser(), kind=self.mode,
            t_from=max(self.t_from.value(), self.t_to.value()), t_to=min(self.t_from.value(), self.t_to.value()),
            panes=tuple(i for i, box in enumerate(self.panes) if box.isChecked()),
            stride=self.stride.value() if self.by_stride.isChecked() else None,
            frame_count=self.count.value() if self.by_count.isChecked() else None,
            options=options, columns=self.columns.value() or None, spacing=self.spacing.currentData(),
            titles=self.titles.isChecked(),
        )

    def _update_estimate(self, *_) -> None:
        self.count.setEnabled(self.by_count.isChecked())
        self.stride.setEnabled(self.by_stride.isChecked())
        self.spacing.setEnabled(self.by_count.isChecked())
        self._estimate_timer.start()

    def update_estimate_now(self) -> None:
        """Recompute the frame count, size and bytes (the dialog calls this shortly after the last change)."""
        self._estimate_timer.stop()
        req = self.request()
        frames, (w, h), size, seconds = estimate(self.source, req)
        ok = frames > 0 and bool(req.panes) and bool(self.path_edit.text().strip())
        self.save_button.setEnabled(ok)
        if not req.panes:
            self.estimate_label.setText("Choose at least one pane.")
        elif frames == 0:
            self.estimate_label.setText("No recorded frame lies in this range.")
        elif self.mode == "gif":
            self.estimate_label.setText(f"{frames} frames of {w} × {h} px, {seconds:.1f} s per play, "
                                        f"about {_size(size)}")
        else:
            self.estimate_label.setText(f"{frames} frames on one {w} × {h} px sheet, about {_size(size)}")

    def _browse(self) -> None:
        pattern = "GIF animation (*.gif)" if self.mode == "gif" else "PNG image (*.png)"
        path, _ = QFileDialog.getSaveFileName(self, self.windowTitle(), self.path_edit.text(), pattern)
        if path:
            suffix = ".gif" if self.mode == "gif" else ".png"
            self.path_edit.setText(path if path.lower().endswith(suffix) else path + suffix)
