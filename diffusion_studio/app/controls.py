"""The left dock: what to sample and how. Widgets only; :meth:`ControlsPanel.request` freezes them into a RunRequest.

Controls that cannot apply to the current choice are disabled (with a tooltip saying why), never hidden or
silently ignored: the schedule and T of a trained model, class and guidance of an unconditional model, eta for
DDPM, the variance for DDIM, the SDEdit strength when starting from pure noise.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QRadioButton,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from diffusion_studio.app.elided_label import ElidedLabel
from diffusion_studio.app.help_texts import cost_note, model_note, start_note
from diffusion_studio.core.plan import SamplingPlan
from diffusion_studio.core.schedules import MAX_T, MIN_T, SCHEDULE_NAMES, Schedule, make_schedule
from diffusion_studio.core.steps import Spacing, Variance
from diffusion_studio.models.base import ModelInfo
from diffusion_studio.models.registry import has_classifier
from diffusion_studio.runs import RunRequest

SOURCES = ("own", "sample", "noise")
SEED_MAX = 2**31 - 1
MIN_COMBO_CHARS = 8
UNCONDITIONAL = "(none: unconditional)"
NOTE_STYLE = ("QLabel#note { background: #fff6dc; color: #4a3800; border: 1px solid #e3c77a; border-radius: 4px; "
              "padding: 4px; }")


def _form(title: str) -> tuple[QGroupBox, QFormLayout]:
    box = QGroupBox(title)
    form = QFormLayout(box)
    form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
    form.setContentsMargins(8, 6, 8, 6)
    return box, form


def _note_label() -> QLabel:
    """A word-wrapped note in a soft box, hidden while it has nothing to say."""
    label = QLabel()
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.RichText)
    label.setObjectName("note")
    label.setStyleSheet(NOTE_STYLE)
    label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
    label.hide()
    return label


def _say(label: QLabel, html: str) -> None:
    if label.text() != html:
        label.setText(html)
    label.setVisible(bool(html))


class ControlsPanel(QWidget):
    """Source, model, schedule, sampler, conditioning, device and the Run button."""

    changed = Signal()
    scheduleChanged = Signal()
    imageChoiceChanged = Signal()
    sizeChanged = Signal(int)
    runRequested = Signal()
    openRequested = Signal()

    def __init__(self, models: list[ModelInfo], samples: list[Path], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.models = {m.name: m for m in models}
        self.samples = list(samples)
        self._image_name = "your image"
        self._own_name: str | None = None
        self._last_image_source = "sample"
        self._image_shape: tuple[int, ...] | None = None
        self._build()
        self._connect()
        self._fill_classes()

    # ----------------------------------------------------------------------------------------------- building
    def _build(self) -> None:
        src_box, src = _form("Start from")
        self.own_radio = QRadioButton("Your image")
        self.own_label = ElidedLabel("(none)")
        self.own_label.setIndent(24)
        self.open_button = QToolButton()
        self.open_button.setText("Open…")
        self.sample_radio = QRadioButton("Sample")
        self.sample_combo = QComboBox()
        for p in self.samples:
            self.sample_combo.addItem(p.stem, str(p))
        self.noise_radio = QRadioButton("Pure noise")
        self.source_group = QButtonGroup(self)
        for i, radio in enumerate((self.own_radio, self.sample_radio, self.noise_radio)):
            self.source_group.addButton(radio, i)
        self.sample_radio.setChecked(True)
        src.addRow(self.own_radio, self.open_button)
        src.addRow(self.own_label)  # a row of its own, elided with "…" (the whole name in its tooltip)
        src.addRow(self.sample_radio, self.sample_combo)
        src.addRow(self.noise_radio, QLabel("x_T ~ N(0, I)"))
        self.size = QSpinBox()
        self.size.setRange(16, 512)
        self.size.setSingleStep(16)
        self.size.setValue(128)
        self.size.setSuffix(" px")
        self.size.setToolTip("Longest side of the picture. Bigger is slower to sample.")
        src.addRow("Picture size", self.size)
        self.strength = QDoubleSpinBox()
        self.strength.setRange(0.05, 1.0)
        self.strength.setSingleStep(0.05)
        self.strength.setValue(0.6)
        self.strength_t0 = QLabel()
        strength_row = QHBoxLayout()
        strength_row.addWidget(self.strength, 1)
        strength_row.addWidget(self.strength_t0)
        src.addRow("SDEdit strength", strength_row)
        self.start_note = _note_label()
        src.addRow(self.start_note)

        model_box, model = _form("Model")
        self.model = QComboBox()
        for name in self.models:
            self.model.addItem(name, name)
        self.model_info_label = QLabel()
        self.model_info_label.setWordWrap(True)
        self.model_info_label.setObjectName("hint")
        # a long path in the model's origin must not widen the dock: the label takes the width it is given
        self.model_info_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        model.addRow("Model", self.model)
        model.addRow(self.model_info_label)
        self.model_note = _note_label()
        model.addRow(self.model_note)
        self.kind = QComboBox()
        self.kind.addItems(SCHEDULE_NAMES)
        self.T = QSpinBox()  # noqa: N815 - the paper's name
        self.T.setRange(MIN_T, MAX_T)
        self.T.setValue(1000)
        model.addRow("Schedule", self.kind)
        model.addRow("Steps T", self.T)

        samp_box, samp = _form("Sampler")
        self.method = QComboBox()
        self.method.addItem("DDPM (ancestral)", "ddpm")
        self.method.addItem("DDIM", "ddim")
        self.method.addItem("Euler", "euler")
        self.method.addItem("Heun (2 calls)", "heun")
        self.method.addItem("DPM-Solver++(2M)", "dpmpp_2m")
        self.method.setToolTip("DDPM and DDIM step in t; Euler, Heun and DPM-Solver++(2M) step on the noise levels "
                               "σ = √((1−ᾱ)/ᾱ) (Karras et al. 2022; Lu et al. 2022); spacing 'karras' uses ρ = 7")
        self.steps = QSpinBox()
        self.steps.setRange(0, MAX_T)
        self.steps.setSpecialValueText("auto")
        self.steps.setToolTip("Number of sampling steps; auto = every t for DDPM, 50 for the others")
        self.eta = QDoubleSpinBox()
        self.eta.setRange(0.0, 1.0)
        self.eta.setSingleStep(0.1)
        self.variance = QComboBox()
        self.variance.addItem("β̃ₜ (posterior)", Variance.BETA_TILDE.value)
        self.variance.addItem("βₜ", Variance.BETA.value)
        self.spacing = QComboBox()
        for s in Spacing:
            self.spacing.addItem(s.value, s.value)
        self.clip = QCheckBox("Clip predicted x₀ to [−1, 1]")
        self.clip.setChecked(True)
        self.seed = QSpinBox()
        self.seed.setRange(0, SEED_MAX)
        self.dice = QToolButton()
        self.dice.setText("⚄")
        self.dice.setToolTip("Roll a new random seed")
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(self.dice)
        samp.addRow("Method", self.method)
        samp.addRow("Steps", self.steps)
        samp.addRow("η (eta)", self.eta)
        samp.addRow("Variance σ²", self.variance)
        samp.addRow("Spacing", self.spacing)
        samp.addRow(self.clip)
        samp.addRow("Seed", seed_row)
        self.cost_note = _note_label()
        samp.addRow(self.cost_note)

        cond_box, cond = _form("Class and guidance")
        self.class_combo = QComboBox()
        self.guidance = QDoubleSpinBox()
        self.guidance.setRange(0.0, 20.0)
        self.guidance.setSingleStep(0.5)
        self.guidance.setValue(1.0)
        self.guidance.setToolTip("Classifier-free guidance scale s: 1 = plain conditional, 0 = unconditional")
        self.classifier_scale = QDoubleSpinBox()
        self.classifier_scale.setRange(0.0, 50.0)
        self.classifier_scale.setSingleStep(0.5)
        self.classifier_scale.setValue(0.0)
        cond.addRow("Class", self.class_combo)
        cond.addRow("Guidance s", self.guidance)
        cond.addRow("Classifier s", self.classifier_scale)

        dev_box, dev = _form("Device")
        self.device = QComboBox()
        self.device.addItem("Auto", "auto")
        self.device.addItem("CPU", "cpu")
        self.device.addItem("CUDA GPU", "cuda")
        if not torch.cuda.is_available():
            item = self.device.model()
            if isinstance(item, QStandardItemModel):
                item.item(2).setEnabled(False)
                item.item(2).setToolTip("No CUDA GPU was found on this computer")
        dev.addRow("Sample on", self.device)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        for box in (src_box, model_box, samp_box, cond_box, dev_box):
            layout.addWidget(box)
        layout.addStretch(1)
        for combo in self.findChildren(QComboBox):  # long names (files, classes) must not widen the dock
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(MIN_COMBO_CHARS)

    def _connect(self) -> None:
        for w in (self.kind, self.method, self.variance, self.spacing, self.class_combo, self.device):
            w.currentIndexChanged.connect(self._on_changed)
        for w in (self.T, self.steps, self.seed):
            w.valueChanged.connect(self._on_changed)
        for w in (self.eta, self.strength, self.guidance, self.classifier_scale):
            w.valueChanged.connect(self._on_changed)
        self.clip.toggled.connect(self._on_changed)
        self.kind.currentIndexChanged.connect(self.scheduleChanged)
        self.T.valueChanged.connect(self.scheduleChanged)
        self.model.currentIndexChanged.connect(self._on_model_changed)
        self.source_group.idToggled.connect(self._on_source_toggled)
        self.sample_combo.currentIndexChanged.connect(self._on_sample_changed)
        self.size.editingFinished.connect(lambda: self.sizeChanged.emit(self.size.value()))
        self.dice.clicked.connect(self.roll_seed)
        self.open_button.clicked.connect(self.openRequested)

    # ----------------------------------------------------------------------------------------------- reading
    def model_info(self) -> ModelInfo:
        return self.models[self.model.currentData()]

    def schedule(self) -> Schedule:
        """The schedule a run would use: the model's own for trained models, else kind and T."""
        trained = self.model_info().training_schedule()
        if trained is not None:
            return trained
        key = (self.kind.currentText(), self.T.value())
        if getattr(self, "_schedule_key", None) != key:
            self._schedule_key, self._schedule = key, make_schedule(*key)
        return self._schedule

    def source(self) -> str:
        return SOURCES[self.source_group.checkedId()]

    def image_source(self) -> str:
        """Which picture the forward view shows: 'own' or 'sample' (pure noise keeps the last one)."""
        return self._last_image_source

    def sample_path(self) -> Path | None:
        data = self.sample_combo.currentData()
        return Path(data) if data else None

    def sampler_settings(self) -> dict:
        return {"sampler": self.method.currentData(), "eta": self.eta.value(),
                "variance": self.variance.currentData(), "clip_x0": self.clip.isChecked()}

    def class_names(self) -> list[str]:
        info = self.model_info()
        if info.name == "ideal":  # its classes are its references: the start picture, then the samples
            return [self._image_name, *(p.stem for p in self.samples)]
        return list(info.class_names)

    def class_name(self) -> str | None:
        """The chosen class by name (None: unconditional)."""
        return None if self.class_combo.currentData() is None else self.class_combo.currentText()

    def set_class_name(self, name: str | None) -> bool:
        """Choose a class by name; False (and nothing changes) if this model has no such class."""
        i = self._class_index(name)
        if i >= 0:
            self.class_combo.setCurrentIndex(i)
        return i >= 0

    def _class_index(self, name: str | None) -> int:
        if name is None:
            return 0
        i = self.class_combo.findText(name)
        return i if i > 0 else -1

    def request(self, image: np.ndarray | None) -> RunRequest:
        """Freeze the controls into a RunRequest (``image`` is the picture shown, used as the start)."""
        info = self.model_info()
        closed = info.schedule is None
        label = self.class_combo.currentData() if self.class_combo.isEnabled() else None
        plan = SamplingPlan(
            sampler=self.method.currentData(), steps=self.steps.value() or None, eta=self.eta.value(),
            spacing=self.spacing.currentData(), variance=self.variance.currentData(),
            clip_x0=self.clip.isChecked(), seed=self.seed.value(),
            strength=self.strength.value() if self.source() != "noise" and image is not None else None,
        )
        return RunRequest(
            model=info.name, schedule=self.kind.currentText() if closed else None,
            T=self.T.value() if closed else None, init_array=image, class_label=label,
            cfg_scale=self.guidance.value() if label is not None else 1.0, plan=plan,
            classifier_scale=self.classifier_scale.value() if self.classifier_scale.isEnabled() else 0.0,
            device=self.device.currentData(),
        )

    # ----------------------------------------------------------------------------------------------- writing
    def set_own_image(self, name: str | None, select: bool = True) -> None:
        """A picture of the person's own was loaded (or forgotten): select it as the start (unless ``select`` is
        False: a reload at a new size leaves the chosen start, e.g. pure noise, as it is)."""
        self._own_name = name
        self.own_label.set_full_text(name or "(none)")
        self._update_enabled()
        if name:
            self._last_image_source = "own"  # the caller shows the picture; checking the radio only records it
            if select or self.source() != "noise":
                self.own_radio.setChecked(True)
        elif self.own_radio.isChecked():
            self.sample_radio.setChecked(True)
        self._update_enabled()

    def select_sample(self, path: Path) -> None:
        i = self.sample_combo.findData(str(path))
        if i >= 0:
            blocked = self.sample_combo.blockSignals(True)
            self.sample_combo.setCurrentIndex(i)
            self.sample_combo.blockSignals(blocked)
        self._last_image_source = "sample"  # so checking the radio below does not announce it twice
        self.sample_radio.setChecked(True)
        self.imageChoiceChanged.emit()

    def set_image_shape(self, shape: tuple[int, ...]) -> None:
        """The shape of the picture shown, (H, W, C): what a run would start from."""
        self._image_shape = tuple(shape)
        self._update_enabled()

    def set_image_name(self, name: str) -> None:
        self._image_name = name
        self._fill_classes()

    def roll_seed(self) -> None:
        self.seed.setValue(random.randint(0, SEED_MAX))

    def state(self) -> dict:
        return {
            "source": self.source(), "sample": self.sample_combo.currentText(), "size": self.size.value(),
            "model": self.model.currentData(), "schedule": self.kind.currentText(), "T": self.T.value(),
            "sampler": self.method.currentData(), "steps": self.steps.value(), "eta": self.eta.value(),
            "variance": self.variance.currentData(), "spacing": self.spacing.currentData(),
            "clip": self.clip.isChecked(), "seed": self.seed.value(), "guidance": self.guidance.value(),
            "classifier_scale": self.classifier_scale.value(), "strength": self.strength.value(),
            "device": self.device.currentData(), "class": self.class_name(),
        }

    def restore(self, state: dict) -> None:
        """Apply a saved state; unknown keys and values that no longer fit are skipped."""
        def combo(w: QComboBox, value, by_text: bool = False) -> None:
            i = w.findText(str(value)) if by_text else w.findData(value)
            if i >= 0:
                w.setCurrentIndex(i)

        def number(w, value) -> None:
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                w.setValue(type(w.value())(value))

        combo(self.model, state.get("model"))
        combo(self.sample_combo, state.get("sample"), by_text=True)
        combo(self.kind, state.get("schedule"), by_text=True)
        combo(self.method, state.get("sampler"))
        combo(self.variance, state.get("variance"))
        combo(self.spacing, state.get("spacing"))
        if state.get("device") != "cuda" or torch.cuda.is_available():  # a GPU that has gone is not chosen
            combo(self.device, state.get("device"))
        for key, w in (("size", self.size), ("T", self.T), ("steps", self.steps), ("eta", self.eta),
                       ("seed", self.seed), ("guidance", self.guidance), ("strength", self.strength),
                       ("classifier_scale", self.classifier_scale)):
            number(w, state.get(key))
        if isinstance(state.get("clip"), bool):
            self.clip.setChecked(state["clip"])
        if state.get("source") == "noise":
            self.noise_radio.setChecked(True)
        if isinstance(state.get("class"), str):
            self.set_class_name(state["class"])
        self._update_enabled()

    # ----------------------------------------------------------------------------------------------- reacting
    def _on_changed(self, *_) -> None:
        self._update_enabled()
        self.changed.emit()

    def _on_model_changed(self, *_) -> None:
        self._fill_classes()
        self._on_changed()
        self.scheduleChanged.emit()

    def _on_source_toggled(self, button_id: int, checked: bool) -> None:
        if not checked:
            return
        source = SOURCES[button_id]
        if source != "noise" and source != self._last_image_source:
            self._last_image_source = source
            self.imageChoiceChanged.emit()
        self._on_changed()

    def _on_sample_changed(self, *_) -> None:
        if self.sample_radio.isChecked():
            self.imageChoiceChanged.emit()
        else:
            self.sample_radio.setChecked(True)

    def _fill_classes(self) -> None:
        """List the model's classes, keeping the chosen one by name (never by index: digits "7" must not become
        another model's seventh class); a name the new model lacks falls back to unconditional sampling."""
        previous = self.class_name()
        blocked = self.class_combo.blockSignals(True)
        self.class_combo.clear()
        self.class_combo.addItem(UNCONDITIONAL, None)
        for i, name in enumerate(self.class_names()):
            self.class_combo.addItem(name, i)
        self.class_combo.setCurrentIndex(max(self._class_index(previous), 0))
        self.class_combo.blockSignals(blocked)
        self._update_enabled()

    def _update_enabled(self) -> None:
        info = self.model_info()
        closed = info.schedule is None
        why_trained = f"The {info.name} model was trained with its own schedule; it cannot change."
        for w in (self.kind, self.T):
            w.setEnabled(closed)
            w.setToolTip("" if closed else why_trained)
        if not closed:
            sched = self.schedule()
            self.model_info_label.setText(f"{info.origin}\nschedule: {sched.describe()}")
        else:
            self.model_info_label.setText(info.origin)
        self.model_info_label.setToolTip(self.model_info_label.text())
        self.size.setEnabled(info.image_size is None)
        if info.image_size is not None:
            self.size.setToolTip(f"The {info.name} model makes {info.image_size}×{info.image_size} pictures only.")
        ddim = self.method.currentData() == "ddim"
        self.eta.setEnabled(ddim)
        self.eta.setToolTip("" if ddim else "η applies to DDIM only.")
        ddpm = self.method.currentData() == "ddpm"
        self.variance.setEnabled(ddpm)
        self.variance.setToolTip("" if ddpm else "σ² applies to DDPM only; the other samplers set their own noise.")
        self.steps.setMaximum(self.schedule().T)
        self.spacing.setEnabled(not ddpm or self.steps.value() not in (0, self.schedule().T))
        has_classes = self.class_combo.count() > 1
        self.class_combo.setEnabled(has_classes)
        self.class_combo.setToolTip("" if has_classes else f"The {info.name} model has no classes.")
        labelled = has_classes and self.class_combo.currentData() is not None
        self.guidance.setEnabled(labelled)
        with_classifier = labelled and has_classifier(info.name)
        self.classifier_scale.setEnabled(with_classifier)
        self.classifier_scale.setToolTip(
            "Classifier guidance (Dhariwal & Nichol 2021): DDPM shifts the mean by s·Σ·∇log p(y|x_t) (Algorithm 1), "
            "DDIM uses ε − √(1−ᾱ_t)·s·∇log p(y|x_t) (Algorithm 2)" if with_classifier else
            f"The {info.name} model has no noise-aware classifier." if labelled else "Choose a class first.")
        self.own_radio.setEnabled(self._own_name is not None)
        from_image = self.source() != "noise"
        self.strength.setEnabled(from_image)
        self.strength.setToolTip("How far to noise the picture before denoising it back (t0 = strength·(T−1))"
                                 if from_image else "SDEdit needs a picture to start from, not pure noise.")
        t0 = self.start_t()
        self.strength_t0.setText(f"t0 = {t0}" if from_image else "")
        _say(self.model_note, model_note(info))
        _say(self.start_note, start_note(info, self.source(), self._image_shape, t0))
        _say(self.cost_note, cost_note(info, self.method.currentData(), self.steps.value(), self.schedule().T))

    def start_t(self) -> int:
        """SDEdit's start t0 = strength·(T−1) (used when starting from a picture)."""
        return round(self.strength.value() * (self.schedule().T - 1))
