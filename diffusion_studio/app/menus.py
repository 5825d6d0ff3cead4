"""The menu bar and its actions (with shortcuts), wired to the window's public methods."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMenu

from diffusion_studio.paths import sample_images

if TYPE_CHECKING:
    from diffusion_studio.app.main_window import MainWindow


@dataclass
class Actions:
    open: QAction
    export_gif: QAction
    export_sheet: QAction
    quit: QAction
    forward_view: QAction
    reverse_view: QAction
    chain: QAction
    resample: QAction
    reset_zoom: QAction
    run: QAction
    cancel: QAction
    roll_seed: QAction
    play: QAction
    explain: QAction
    about: QAction
    recent_menu: QMenu


def _action(window: MainWindow, text: str, slot, shortcut=None, tip: str = "") -> QAction:
    action = QAction(text, window)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    if tip:
        action.setStatusTip(tip)
        action.setToolTip(tip)
    action.triggered.connect(slot)
    return action


def build_menus(w: MainWindow) -> Actions:
    """Create File, View, Run and Help; returns the actions the window enables and checks later."""
    key = QKeySequence.StandardKey
    a = Actions(
        open=_action(w, "&Open Image…", w.choose_image, key.Open, "Open a picture of your own (or drop one)"),
        export_gif=_action(w, "&Export GIF…", lambda: w.open_export_dialog("gif"), "Ctrl+E",
                           "Write the view on the timeline as an animated GIF"),
        export_sheet=_action(w, "Export &Contact Sheet…", lambda: w.open_export_dialog("sheet"), "Ctrl+Shift+E",
                             "Write chosen frames side by side as one PNG"),
        quit=_action(w, "&Quit", w.close, key.Quit),
        forward_view=_action(w, "&Forward: Adding Noise", lambda: w.set_view("forward"), "Ctrl+1"),
        reverse_view=_action(w, "&Reverse: Denoising", lambda: w.set_view("reverse"), "Ctrl+2"),
        chain=_action(w, "Show the &Chained One-Step Process", w.set_chain_visible, None,
                      "Forward view: add noise one step at a time, next to the closed form"),
        resample=_action(w, "Resample &Noise", w.resample_noise, "Ctrl+N", "Draw a new ε for the forward view"),
        reset_zoom=_action(w, "Reset &Zoom", w.canvas.reset_zoom, "Ctrl+0"),
        run=_action(w, "&Run", w.start_run, "Ctrl+R", "Sample with the current settings"),
        cancel=_action(w, "&Cancel Run", w.cancel_run, "Esc", "Stop after the current step"),
        roll_seed=_action(w, "Roll &Seed", w.controls.roll_seed, "Ctrl+D"),
        play=_action(w, "&Play / Pause", w.player.play_button.toggle, None),
        explain=_action(w, "&What Am I Looking At?", w.show_explanation, key.HelpContents),
        about=_action(w, f"&About {w.windowTitle() or 'Diffusion Studio'}", w.show_about),
        recent_menu=QMenu("Open &Recent", w),
    )
    views = QActionGroup(w)
    for action in (a.forward_view, a.reverse_view):
        action.setCheckable(True)
        views.addAction(action)
    a.forward_view.setChecked(True)
    a.chain.setCheckable(True)
    a.cancel.setEnabled(False)

    bar = w.menuBar()
    file_menu = bar.addMenu("&File")
    file_menu.addAction(a.open)
    from diffusion_studio.app.model_folder import add_model_folder_menu

    add_model_folder_menu(w, file_menu)  # Open Model Folder… and Recent Models (diffusers folders, issue 13)
    samples = file_menu.addMenu("Open &Sample Image")
    for path in sample_images():
        samples.addAction(path.stem, lambda p=path: w.open_sample(p))
    file_menu.addMenu(a.recent_menu)
    a.recent_menu.aboutToShow.connect(lambda: _fill_recent(w, a.recent_menu))
    file_menu.addSeparator()
    file_menu.addAction(a.export_gif)
    file_menu.addAction(a.export_sheet)
    file_menu.addSeparator()
    file_menu.addAction(a.quit)

    view_menu = bar.addMenu("&View")
    view_menu.addActions([a.forward_view, a.reverse_view])
    view_menu.addSeparator()
    view_menu.addActions([a.chain, a.resample, a.reset_zoom])
    view_menu.addAction(_action(w, "&Lenses: Spectrum and Trajectory…", w.open_lenses, "Ctrl+L", "Recompute the run"))
    view_menu.addSeparator()
    for dock in w.docks:
        view_menu.addAction(dock.toggleViewAction())

    run_menu = bar.addMenu("&Run")
    run_menu.addActions([a.run, a.cancel, a.roll_seed])
    run_menu.addSeparator()
    run_menu.addAction(a.play)

    help_menu = bar.addMenu("&Help")
    help_menu.addActions([a.explain, a.about])
    return a


def _fill_recent(w: MainWindow, menu: QMenu) -> None:
    menu.clear()
    recent = w.settings.recent_files()
    for path in recent:
        action = menu.addAction(Path(path).name, lambda p=path: w.open_image(p))
        action.setToolTip(path)
        action.setEnabled(Path(path).exists())
    if not recent:
        menu.addAction("(none yet)").setEnabled(False)
    else:
        menu.addSeparator()
        menu.addAction("Clear the List", w.settings.clear_recent)
