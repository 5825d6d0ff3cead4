"""The compare window: runs from the same noise side by side, seed grids, and branches from the step on screen.

It adapts :mod:`diffusion_studio.session` to widgets: the runs are plain :class:`Run` objects recorded on a
worker thread (one :class:`BackgroundJob`), and the window only paints them (:class:`ComparePanes`) on one
playhead. The base settings are the main window's controls at the moment it was opened (or refreshed).
Memory: the window's runs reserve their bytes in the same :class:`MemoryBudget` as the main window's frame store,
so a comparison gets what the main run left, split between its runs; what a run could not keep is said in the
status line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from diffusion_studio.app.compare_panes import ComparePanes, Extra, FilmstripView
from diffusion_studio.app.screen_fit import fit_size, free_desktop
from diffusion_studio.app.step_rows import StepRows
from diffusion_studio.app.worker import FAILED, BackgroundJob
from diffusion_studio.core.cancel import CancelToken
from diffusion_studio.errors import StudioError
from diffusion_studio.session.branching import Branches, branch, check_branch
from diffusion_studio.session.compare import RunGroup, default_match, parse_vary, prepare_all
from diffusion_studio.session.exports import GroupExport, export_group_gif, export_group_png
from diffusion_studio.session.frame_store import MemoryBudget
from diffusion_studio.session.request import PreparedRun, RunRequest, prepare_run
from diffusion_studio.session.run import RUN_BUDGET_BYTES, RecordedStep, Run, bytes_needed, share_budget
from diffusion_studio.session.seeds import grid_columns, parse_seeds

PROGRESS_MS = 100
CELL_PX = 160  # exported pictures are upscaled (nearest) to about this many pixels


class CompareWindow(QWidget):
    """Vary settings (or seeds), run, scrub the shared playhead, branch from the step on screen."""

    def __init__(self, base: RunRequest, prepare: Callable[[RunRequest], PreparedRun] = prepare_run,
                 parent: QWidget | None = None, memory: MemoryBudget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setWindowTitle("Compare and branch")
        self.base, self.prepare = base, prepare
        self.memory = memory or MemoryBudget(RUN_BUDGET_BYTES)
        self._key = id(self)  # this window's reservation in the shared budget
        self.group: RunGroup | None = None
        self.branches: Branches | None = None
        self.playhead: list[int] = []
        self._runs: list[Run] = []
        self._match = "t"
        self._columns: int | None = None
        self.third = "eps"  # the third pane of each run: eps, v or flow (the main window's right-pane choice)
        self._steps_done = 0
        self._steps_total = 0
        self._what = ""
        self._job = BackgroundJob("compare", self)
        self._job.item.connect(self._on_item)
        self._job.ended.connect(self._on_ended)
        self._progress = QTimer(self)
        self._progress.setInterval(PROGRESS_MS)
        self._progress.timeout.connect(self._show_progress)
        self._build()

    # ------------------------------------------------------------------------------------------------ layout
    def _build(self) -> None:
        self.vary = QLineEdit("sampler=ddpm,ddim")
        self.vary.setToolTip("KEY=V1,V2[,V3,V4]; several keys with ';', e.g. sampler=ddim,ddim;steps=50,10")
        self.compare_button = QPushButton("Compare")
        self.compare_button.clicked.connect(self.start_compare)
        self.seeds = QLineEdit("0-3")
        self.seeds.setToolTip("Seeds for the same settings: 0-3, 0-8 or 1,5,9,13")
        self.seeds_button = QPushButton("Seeds")
        self.seeds_button.clicked.connect(self.start_seeds)
        self.branch_count = QSpinBox()
        self.branch_count.setRange(1, 8)
        self.branch_count.setValue(4)
        self.branch_button = QPushButton("Branch from here")
        self.branch_button.setToolTip("Continue run 1 from the step on screen with fresh noise, several times")
        self.branch_button.clicked.connect(self.branch_here)
        self.continue_button = QPushButton("Continue")
        self.continue_button.setToolTip("Finish the runs that were cancelled, as if they had never stopped")
        self.continue_button.clicked.connect(self.continue_runs)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self._job.cancel)
        self.diff = QCheckBox("Difference to run")
        self.diff.toggled.connect(self._refresh_panes)
        self.reference = QSpinBox()
        self.reference.setRange(1, 1)
        self.reference.setToolTip("The run the difference row is measured against")
        self.reference.valueChanged.connect(self._refresh_panes)
        self.export_gif_button = QPushButton("Export GIF…")
        self.export_gif_button.clicked.connect(lambda: self.choose_export("gif"))
        self.export_png_button = QPushButton("Export PNG grid…")
        self.export_png_button.clicked.connect(lambda: self.choose_export("png"))
        self._export_job = BackgroundJob("compare-export", self)
        self._export_job.item.connect(lambda path: self.status.setText(f"Wrote {path}."))
        self._export_job.ended.connect(self._on_export_ended)
        self.panes = ComparePanes()
        self.strip = FilmstripView()
        self.strip_box = QCheckBox("x₀ filmstrip of the reference run")
        self.strip_box.setChecked(True)
        self.strip_box.toggled.connect(self._refresh_panes)
        self.step_rows = StepRows()  # each run's model calls on one log-SNR axis (a comparison only)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.valueChanged.connect(self.set_position)
        self.where = QLabel("")
        self.status = QLabel("Choose what differs and press Compare.")
        self.status.setWordWrap(True)

        top = QHBoxLayout()
        for w in (QLabel("Vary:"), self.vary, self.compare_button, QLabel("Seeds:"), self.seeds, self.seeds_button):
            top.addWidget(w)
        second = QHBoxLayout()
        for w in (QLabel("Branches:"), self.branch_count, self.branch_button, self.continue_button,
                  self.cancel_button, self.diff, self.reference, self.export_gif_button, self.export_png_button):
            second.addWidget(w)
        second.addStretch(1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.slider, 1)
        bottom.addWidget(self.where)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(second)
        layout.addWidget(self.panes, 1)
        layout.addWidget(self.strip_box)
        layout.addWidget(self.strip)
        layout.addWidget(self.step_rows)
        layout.addLayout(bottom)
        layout.addWidget(self.status)
        self._set_running(False)
        fit_size(self, 1240, 900, free_desktop(self.parentWidget()))  # room for the panes beside the filmstrip and rows

    def _set_running(self, running: bool) -> None:
        for w in (self.compare_button, self.seeds_button, self.branch_button, self.continue_button,
                  self.export_gif_button, self.export_png_button):
            w.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        if not running:
            self.branch_button.setEnabled(bool(self._runs) and self._runs[0].done > 0)
            self.continue_button.setEnabled(any(not r.finished and r.own_from == 0 for r in self._runs))
            for w in (self.export_gif_button, self.export_png_button):
                w.setEnabled(self.group is not None and all(r.steps for r in self.group.runs))

    # ------------------------------------------------------------------------------------------------ jobs
    def start_compare(self) -> bool:
        """Run the variants written in the Vary box from the same start noise."""
        try:
            variants = parse_vary([s for s in self.vary.text().split(";") if s.strip()])
            requests = [v.apply(self.base) for v in variants]
            prepared = prepare_all(requests, self.prepare)
        except StudioError as err:
            self.status.setText(str(err))
            return False
        self._match = default_match(prepared)
        items = [(p, v.label, r) for p, v, r in zip(prepared, variants, requests, strict=True)]
        self._start(items, columns=None)
        return True

    def start_seeds(self) -> bool:
        """The base settings for each seed in the Seeds box."""
        try:
            seeds = parse_seeds(self.seeds.text())
            base = self.prepare(self.base)
        except StudioError as err:
            self.status.setText(str(err))
            return False
        self._match = "t"
        items = [(replace(base, plan=replace(base.plan, seed=s)), f"seed {s}", self.base) for s in seeds]
        self._start(items, columns=grid_columns(len(seeds)))
        return True

    def _reserve(self, needs: list[int]) -> int:
        """Reserve room for runs needing ``needs`` bytes in the shared budget; returns each run's share."""
        self.memory.release(self._key)
        share = share_budget(len(needs), self.memory.available(self._key))
        self.memory.reserve(self._key, sum(min(share, n) for n in needs))
        return share

    def _start(self, items: list[tuple[PreparedRun, str, RunRequest | None]], columns: int | None) -> None:
        self._runs, self.branches, self._columns = [], None, columns
        share = self._reserve([bytes_needed(p) for p, _, _ in items])
        self._steps_total = sum(len(p.timesteps) for p, _, _ in items)

        def job(cancel: CancelToken) -> Iterator[Run]:
            for p, label, req in items:
                if cancel.cancelled:
                    return
                yield Run.start(p, label, req, cancel, self._count_step, share)

        self._launch(job, "Sampling")

    def branch_here(self) -> bool:
        """Continue run 1 from the step on screen, M times with fresh noise (the trunk is re-used, not re-run)."""
        if not self._runs:
            return False
        trunk = self._runs[0]
        t = self.playhead[self.slider.value()] if self.playhead else trunk.timesteps[0]
        t = max(t, trunk.timesteps[-1])
        count = self.branch_count.value()
        try:
            check_branch(trunk.prepared, t, count)
        except StudioError as err:
            self.status.setText(str(err))
            return False
        self._runs, self.branches, self._columns = [trunk], None, None
        self._reserve([trunk.budget, trunk.budget])  # the trunk, and M branches holding one trunk's worth
        self._steps_total = 0  # one batched job: no per-step count

        def job(cancel: CancelToken) -> Iterator[Branches]:
            yield branch(trunk, t, count, cancel=cancel)

        self._launch(job, f"Branching {count} times from t = {t}")
        return True

    def continue_runs(self) -> bool:
        """Finish every cancelled run exactly where it stopped."""
        todo = [i for i, r in enumerate(self._runs) if not r.finished and r.own_from == 0]
        if not todo:
            return False
        runs = list(self._runs)
        self._steps_total = sum(len(runs[i].timesteps) - runs[i].done for i in todo)

        def job(cancel: CancelToken) -> Iterator[tuple[int, Run]]:
            for i in todo:
                if cancel.cancelled:
                    return
                yield i, Run.continue_from(runs[i], cancel, self._count_step)

        self._launch(job, "Continuing")
        return True

    def _launch(self, job, what: str) -> None:
        self._steps_done = 0
        self._what = what
        self._set_running(True)
        self._progress.start()
        self._job.start(job)

    def _count_step(self, step: RecordedStep) -> None:  # called on the worker thread: one int, no Qt
        self._steps_done += 1

    def _show_progress(self) -> None:
        counts = f" {self._steps_done}/{self._steps_total} steps" if self._steps_total else ""
        self.status.setText(f"{self._what}…{counts}")

    def _on_item(self, obj: object) -> None:
        if isinstance(obj, Branches):
            self.branches = obj
            self._runs = [obj.trunk, *obj.branches]
        elif isinstance(obj, tuple):
            i, run = obj
            self._runs[i] = run
        else:
            assert isinstance(obj, Run)
            self._runs.append(obj)
        self._show_group()

    def _on_ended(self, status: str, message: str) -> None:
        self._progress.stop()
        self._set_running(False)
        if status == FAILED:
            self.status.setText(message or "The run stopped for an unknown reason.")
            return
        cancelled = " (cancelled: press Continue to finish)" if status == "cancelled" else ""
        self.status.setText(self.summary() + cancelled)

    # ------------------------------------------------------------------------------------------------ showing
    def _show_group(self) -> None:
        if self.branches is not None:
            self.group = self.branches.group
        else:
            self.group = RunGroup(list(self._runs), self._match, 0)
        self.reference.setRange(1, len(self.group.runs))
        t_before = self.playhead[self.slider.value()] if self.playhead else None
        self.playhead = self.group.playhead()
        self.slider.blockSignals(True)
        self.slider.setRange(0, len(self.playhead) - 1)
        if t_before is not None and t_before in self.playhead:
            self.slider.setValue(self.playhead.index(t_before))
        self.slider.blockSignals(False)
        self._refresh_panes()

    def set_third(self, kind: str) -> None:
        """Show ``kind`` (eps, v or flow) as each run's third pane."""
        self.third = kind
        self._refresh_panes()

    def _refresh_panes(self) -> None:
        panes = ("x_t", "x0", self.third, "diff") if self.diff.isChecked() else ("x_t", "x0", self.third)
        if self.group is not None:
            self.group.reference = min(self.reference.value(), len(self.group.runs)) - 1
        extras: list[Extra] = []
        if self.branches is not None:
            extras.append((f"spread across {len(self.branches.branches)} branches", self.branches.spread_map))
        if self._columns is not None:  # a seed grid: one picture per seed, in a square
            panes = ("x_t",)
        self.panes.set_group(self.group, panes, self._columns, extras)
        plain = self._columns is None and self.branches is None  # seeds and branches share one plan: no rows
        self.step_rows.set_group(self.group if plain else None)
        show_strip = self.strip_box.isChecked() and self.group is not None and bool(self.group.runs)
        self.strip.setVisible(show_strip)
        if show_strip:
            self.strip.set_run(self.group.runs[self.group.reference])
        self.set_position(self.slider.value())

    def set_position(self, index: int) -> None:
        """Move the shared playhead to position ``index`` (0 = the noisiest step, last = the finished pictures)."""
        if not self.playhead:
            return
        index = max(0, min(index, len(self.playhead) - 1))
        if self.slider.value() != index:
            self.slider.setValue(index)  # comes back here through valueChanged
            return
        t = self.playhead[index]
        self.where.setText("finished" if t < 0 else f"t = {t}")
        self.panes.set_t(t)
        self.step_rows.set_t(t)

    def summary(self) -> str:
        """Model calls per run, and what was not kept to stay within memory, in a line or two."""
        if not self._runs:
            return ""
        costs = ", ".join(f"{r.label}: {r.model_calls}" for r in self._runs)
        notes = " ".join(n for r in self._runs for n in (r.notice, r.note()) if n)
        return f"Model calls: {costs}. {notes}".strip()

    # ------------------------------------------------------------------------------------------------ export
    def _spec(self) -> GroupExport:
        panes = tuple(self.panes.panes)
        side = max(self.group.runs[0].shape[1:])
        extras = tuple(self.panes.extras)
        return GroupExport(panes, self._columns, max(1, CELL_PX // side), extras)

    def choose_export(self, kind: str) -> None:
        """Ask for a file name, then write the labelled GIF or PNG grid on a worker thread."""
        if self.group is None:
            return
        name = "comparison.gif" if kind == "gif" else "comparison.png"
        path, _ = QFileDialog.getSaveFileName(self, "Export the comparison", name,
                                              "GIF (*.gif)" if kind == "gif" else "PNG (*.png)")
        if path:
            self.export(Path(path), kind)

    def export(self, path: Path, kind: str) -> None:
        """Write what is on screen (every run, the panes shown, the spread if any), labelled, atomically."""
        group, spec = self.group, self._spec()
        rows = 1 if self._columns is not None else 6

        def job(cancel: CancelToken) -> Iterator[Path]:
            if kind == "gif":
                yield export_group_gif(path, group, spec).path
            else:
                yield export_group_png(path, group, spec, rows)

        self.status.setText(f"Writing {path.name}…")
        self._export_job.start(job)

    def _on_export_ended(self, status: str, message: str) -> None:
        if status == FAILED:
            self.status.setText(message)

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        self._progress.stop()
        self._job.stop()
        self._export_job.stop()
        self._runs, self.branches, self.group = [], None, None
        self.panes.set_group(None)
        self.memory.release(self._key)
        super().closeEvent(event)
