"""The classifier-free guidance difference panel: eps_cond - eps_uncond at the step on screen.

What guidance adds at each step (Ho & Salimans 2022: eps = eps_u + s (eps_c - eps_u)); grey is zero, the range
is symmetric and fixed per run so steps compare. Outside a guidance interval, or without guidance, it says so.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import torch
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget


class CfgDeltaPanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = pg.GraphicsLayoutWidget()
        self.view.setBackground("w")
        box = self.view.addViewBox(lockAspect=True, invertY=True)
        self.image = pg.ImageItem()
        box.addItem(self.image)
        self.caption = QLabel("ε̂(c) − ε̂(∅): no classifier-free guidance in this run")
        self.caption.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.caption)
        layout.addWidget(self.view, 1)
        self.scale = 1.0
        self.shown = False
        self.guided = False  # does any step of the run have a difference (known once set_range has seen the run)

    def set_range(self, deltas: list[torch.Tensor | None]) -> None:
        """One symmetric display range for the whole run: the largest |eps_c - eps_u| of any step."""
        values = [float(d.abs().max()) for d in deltas if d is not None]
        self.scale = max(values) if values else 1.0
        self.guided = bool(values)

    def show_delta(self, delta: torch.Tensor | None, t: int) -> None:
        """Show one step's difference; a step without one changes nothing on screen that need not change (a run
        without guidance repaints nothing as the playhead moves)."""
        if delta is None:
            if self.shown:
                self.image.clear()
            self.shown = False
            text = (f"ε̂(c) − ε̂(∅) at t = {t}: not guided at this step" if self.guided
                    else "ε̂(c) − ε̂(∅): no classifier-free guidance in this run")
            if self.caption.text() != text:
                self.caption.setText(text)
            return
        self.shown = self.guided = True
        d = delta.float().numpy()  # (C, H, W)
        # RGB as it is; one channel (or any other count: their mean) as grey
        rgb = np.transpose(d, (1, 2, 0)) if d.shape[0] == 3 else np.repeat(d.mean(axis=0)[..., None], 3, axis=2)
        u8 = np.clip(127.5 + 127.5 * rgb / self.scale, 0, 255).astype(np.uint8)
        self.image.setImage(np.ascontiguousarray(np.transpose(u8, (1, 0, 2))), levels=(0, 255))
        self.caption.setText(f"ε̂(c) − ε̂(∅) at t = {t} (grey 0, white +{self.scale:.2g}, black -{self.scale:.2g})")
