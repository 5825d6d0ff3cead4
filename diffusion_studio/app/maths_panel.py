"""The equations of the process with the numbers of the step under the playhead filled in.

The coefficients come from :func:`diffusion_studio.core.steps.ddpm_coefficients`, :func:`ddpm_sigma` and
:func:`ddim_sigma`, so what is written here is exactly what the sampler computes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QScrollArea, QVBoxLayout, QWidget

from diffusion_studio.core.schedules import Schedule
from diffusion_studio.core.steps import Variance, ddim_sigma, ddpm_coefficients, ddpm_sigma


@dataclass(frozen=True)
class MathsState:
    """What the panel describes: the schedule, the step t -> t_prev, and how the sampler takes it."""

    schedule: Schedule
    t: int
    t_prev: int
    sampler: str = "ddpm"
    eta: float = 0.0
    variance: str = Variance.BETA_TILDE.value
    clip_x0: bool = True
    reverse: bool = False  # reverse view: the step of a run; forward view: the noising at t


def _n(v: float) -> str:
    """A number with four significant digits, minus sign typeset."""
    return f"{v:.4g}".replace("-", "−")


def _h(title: str) -> str:
    return f"<p style='margin-top:8px'><b>{title}</b></p>"


def forward_html(s: Schedule, t: int) -> str:
    if t < 0:
        return (_h("Forward process") + "<p>t = −1 stands for the clean picture: x<sub>t</sub> = x₀ "
                "(ᾱ = 1, no noise yet). Move the playhead left to add noise.</p>")
    abar = float(s.alpha_bars[t])
    a, b = np.sqrt(abar), np.sqrt(1.0 - abar)
    return (
        _h(f"Forward process at t = {t}")
        + "<p>x<sub>t</sub> = √ᾱ<sub>t</sub>·x₀ + √(1−ᾱ<sub>t</sub>)·ε,&nbsp; ε ~ N(0, I)</p>"
        + f"<p>ᾱ<sub>t</sub> = {_n(abar)} &nbsp;⇒&nbsp; x<sub>t</sub> = <b>{_n(a)}</b>·x₀ + <b>{_n(b)}</b>·ε</p>"
        + f"<p>SNR = ᾱ/(1−ᾱ) = {_n(abar / (1 - abar))},&nbsp; log-SNR = {_n(float(s.log_snr[t]))}</p>"
        + "<p>one step: q(x<sub>t</sub> | x<sub>t−1</sub>) = N(√(1−β<sub>t</sub>)·x<sub>t−1</sub>, β<sub>t</sub>·I),"
        + f"&nbsp; β<sub>t</sub> = {_n(float(s.betas[t]))}</p>"
    )


def reverse_html(m: MathsState) -> str:
    s, t, tp = m.schedule, m.t, m.t_prev
    if t < 0:
        return _h("Reverse process") + "<p>t = −1: the finished sample x₀, the output of the last step.</p>"
    c = ddpm_coefficients(s, t, tp)
    abar = c["abar_t"]
    x0_a, x0_b = 1 / np.sqrt(abar), np.sqrt(1 - abar) / np.sqrt(abar)
    target = "x₀" if tp < 0 else f"x<sub>{tp}</sub>"
    html = (
        _h(f"Reverse step t = {t} → {'x₀ (the end)' if tp < 0 else f't = {tp}'}")
        + "<p>predicted clean picture: <i>x̂</i>₀ = (x<sub>t</sub> − √(1−ᾱ<sub>t</sub>)·ε̂<sub>θ</sub>) / √ᾱ<sub>t</sub>"
        + f" = <b>{_n(x0_a)}</b>·x<sub>t</sub> − <b>{_n(x0_b)}</b>·ε̂<sub>θ</sub>"
        + (" (then clipped to [−1, 1])" if m.clip_x0 else "") + "</p>"
    )
    if m.sampler == "ddim":
        sigma = ddim_sigma(s, t, tp, m.eta)
        dir_coef = np.sqrt(max(1 - c["abar_prev"] - sigma**2, 0.0))
        return html + (
            f"<p>DDIM (η = {_n(m.eta)}): {target} = √ᾱ<sub>prev</sub>·<i>x̂</i>₀"
            + " + √(1−ᾱ<sub>prev</sub>−σ²)·ε̂<sub>θ</sub> + σ·z</p>"
            + f"<p>= <b>{_n(np.sqrt(c['abar_prev']))}</b>·<i>x̂</i>₀ + <b>{_n(dir_coef)}</b>·ε̂<sub>θ</sub>"
            + f" + <b>{_n(sigma)}</b>·z,&nbsp; ᾱ<sub>prev</sub> = {_n(c['abar_prev'])}</p>"
        )
    sigma = ddpm_sigma(s, t, m.variance, tp)
    var_name = "β<sub>t</sub>" if m.variance == Variance.BETA.value else "β̃<sub>t</sub>"
    if m.clip_x0:
        mean = (f"μ = μ̃(x<sub>t</sub>, <i>x̂</i>₀) = <b>{_n(c['coef_x0'])}</b>·<i>x̂</i>₀"
                f" + <b>{_n(c['coef_xt'])}</b>·x<sub>t</sub> (posterior mean, with <i>x̂</i>₀ clipped)")
    else:
        mean = (f"μ<sub>θ</sub> = (x<sub>t</sub> − β<sub>t</sub>/√(1−ᾱ<sub>t</sub>)·ε̂<sub>θ</sub>) / √α<sub>t</sub>"
                f" = <b>{_n(c['mean_scale'])}</b>·x<sub>t</sub> − "
                f"<b>{_n(c['mean_scale'] * c['eps_coef'])}</b>·ε̂<sub>θ</sub>")
    return html + (
        f"<p>DDPM: {target} = μ + σ<sub>t</sub>·z,&nbsp; z ~ N(0, I)</p><p>{mean}</p>"
        + f"<p>σ<sub>t</sub> = √{var_name} = <b>{_n(sigma)}</b>"
        + f"&nbsp; (β<sub>t</sub> = {_n(c['beta_t'])}, β̃<sub>t</sub> = {_n(c['beta_tilde'])})</p>"
    )


class MathsPanel(QWidget):
    """A scrollable rich-text panel; :meth:`show_state` rewrites it for the step under the playhead."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel()
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setWordWrap(True)
        self.label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setMargin(6)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(self.label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)
        self.state: MathsState | None = None

    def show_state(self, state: MathsState) -> None:
        if state == self.state:
            return
        self.state = state
        if state.reverse:
            html = reverse_html(state) + forward_html(state.schedule, state.t)
        else:
            html = forward_html(state.schedule, state.t) + reverse_html(state)
        self.label.setText(html)

    def text(self) -> str:
        return self.label.text()
