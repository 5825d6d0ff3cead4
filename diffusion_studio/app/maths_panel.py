"""The equations of the process with the numbers of the step under the playhead filled in.

The coefficients come from :func:`diffusion_studio.core.steps.ddpm_coefficients`, :func:`ddpm_sigma` and
:func:`ddim_sigma`, so what is written here is exactly what the sampler computes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QCursor
from PySide6.QtWidgets import QTextBrowser, QToolTip, QVBoxLayout, QWidget

from diffusion_studio.app.flow_maths import flow_html
from diffusion_studio.app.guidance_size import GuidanceSize
from diffusion_studio.app.help_texts import TERMS
from diffusion_studio.core.schedules import Schedule
from diffusion_studio.core.steps import Variance, ddim_sigma, ddpm_coefficients, ddpm_sigma
from diffusion_studio.session.flow_check import FlowNumbers


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
    class_name: str | None = None  # the class sampled (None: unconditional)
    cfg_scale: float = 1.0  # classifier-free guidance scale s
    classifier_scale: float = 0.0  # classifier guidance scale (Dhariwal & Nichol)
    sizes: GuidanceSize | None = None  # the guidance terms' sizes at this step (a finished run's step)
    sizes_note: str = ""  # why there are none, when that is worth saying
    flow: FlowNumbers | None = None  # the step in the rescaled and flow coordinates (reverse view, t >= 0)
    third: str = "eps"  # what the third pane shows: eps, v or flow


TERM_STYLE = "color:#2a6fb8; text-decoration:none"


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
        + (" (then clipped to [−1, 1])" if m.clip_x0 and m.sampler not in SIGMA_SAMPLERS else "") + "</p>"
    )
    if m.sampler in SIGMA_SAMPLERS:
        return html + sigma_step_html(m, c["abar_t"], c["abar_prev"], target)
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


SIGMA_SAMPLERS = ("euler", "heun", "dpmpp_2m")


def sigma_step_html(m: MathsState, abar_t: float, abar_prev: float, target: str) -> str:
    """One step of Euler / Heun (Karras et al. 2022, Algorithms 1 and 2) or DPM-Solver++(2M) (Lu et al. 2022) on
    the noise levels σ = √((1−ᾱ)/ᾱ), written for the scaled picture x/√ᾱ (the numbers use the nearest trained t)."""
    sig_t = np.sqrt((1 - abar_t) / abar_t)
    sig_p = np.sqrt((1 - abar_prev) / abar_prev) if abar_prev < 1 else 0.0
    head = (f"<p>noise levels σ = √((1−ᾱ)/ᾱ): σ<sub>t</sub> = <b>{_n(sig_t)}</b> → σ<sub>prev</sub> = "
            f"<b>{_n(sig_p)}</b>; the sampler moves the scaled picture x/√ᾱ, shown here as x<sub>t</sub> again</p>")
    if m.sampler == "dpmpp_2m":
        lam_t = -np.log(sig_t)
        lam_p = -np.log(sig_p) if sig_p > 0 else float("inf")
        return head + (
            "<p>DPM-Solver++(2M) (Lu et al. 2022): with λ = −log σ and h = λ<sub>prev</sub> − λ<sub>t</sub>, "
            f"{target}/√ᾱ<sub>prev</sub> = (σ<sub>prev</sub>/σ<sub>t</sub>)·x<sub>t</sub>/√ᾱ<sub>t</sub> − "
            "(e<sup>−h</sup> − 1)·D, where D blends this step's <i>x̂</i>₀ with the previous step's "
            f"(second order; the first and last steps use <i>x̂</i>₀ alone)</p><p>h = <b>{_n(lam_p - lam_t)}</b></p>"
        )
    euler = (f"<p>Euler (Karras et al. Algorithm 1): d = (x<sub>t</sub>/√ᾱ<sub>t</sub> − <i>x̂</i>₀)/σ<sub>t</sub>"
             f" = ε̂<sub>θ</sub>; {target}/√ᾱ<sub>prev</sub> = x<sub>t</sub>/√ᾱ<sub>t</sub> + (σ<sub>prev</sub> − "
             f"σ<sub>t</sub>)·d, step <b>{_n(sig_p - sig_t)}</b>·d. With ε-prediction this is deterministic DDIM.</p>")
    if m.sampler == "euler":
        return head + euler
    return head + euler + (
        "<p>Heun (Algorithm 2) then asks the model again at the Euler point: d′ = ε̂<sub>θ</sub> there, and takes "
        "the average slope (d + d′)/2 (two model calls per step; the last step is a plain Euler step)</p>"
    )


def guidance_html(m: MathsState) -> str:
    """Classifier-free guidance (Ho & Salimans 2022) and classifier guidance (Dhariwal & Nichol 2021, Algorithms 1
    and 2) with the coefficients of the step shown and, for a finished run's step, the sizes of the terms."""
    html = _h("Guidance")
    if m.class_name is None:
        return html + ("<p>No class chosen: ε̂<sub>θ</sub> = ε<sub>θ</sub>(x<sub>t</sub>, t), unconditional. "
                       "Choose a class to see guidance at work.</p>")
    s, z = m.cfg_scale, m.sizes
    html += (f"<p>classifier-free, class “{m.class_name}”, s = {_n(s)}:<br>ε̂<sub>θ</sub> = ε<sub>u</sub> + s·"
             "(ε<sub>c</sub> − ε<sub>u</sub>)"
             f" = <b>{_n(1 - s)}</b>·ε<sub>u</sub> + <b>{_n(s)}</b>·ε<sub>c</sub></p>")
    if z is not None:
        html += (f"<p>at this step (RMS per pixel): s·(ε<sub>c</sub> − ε<sub>u</sub>) = <b>{_n(z.cfg_term)}</b>, "
                 f"ε<sub>c</sub> − ε<sub>u</sub> = {_n(z.difference)}, ε̂<sub>θ</sub> = {_n(z.eps)}"
                 + (f"; classifier term = <b>{_n(z.classifier_term)}</b>" if z.classifier_term is not None else "")
                 + "</p>")
    c = m.classifier_scale
    if c:
        t = max(m.t, 0)
        abar = float(m.schedule.alpha_bars[t])
        if m.sampler != "ddpm":
            html += ("<p>classifier guidance (Dhariwal &amp; Nichol, Algorithm 2):<br>ε̂ ← ε̂<sub>θ</sub> − "
                     "s·√(1−ᾱ<sub>t</sub>)·∇<sub>x</sub> log p<sub>φ</sub>(y | x<sub>t</sub>)"
                     f" = ε̂<sub>θ</sub> − <b>{_n(c * np.sqrt(1 - abar))}</b>·∇ log p(y | x<sub>t</sub>)"
                     f"&nbsp; (s = {_n(c)})</p>")
        else:
            sigma = ddpm_sigma(m.schedule, t, m.variance, m.t_prev)
            html += ("<p>classifier guidance (Dhariwal &amp; Nichol, Algorithm 1):<br>x<sub>t−1</sub> ~ "
                     "N(μ + s·Σ·∇<sub>x</sub> log p<sub>φ</sub>(y | x<sub>t</sub>), Σ),&nbsp; Σ = σ<sub>t</sub>²·I"
                     f"<br>mean shift = <b>{_n(c * sigma**2)}</b>·∇ log p(y | x<sub>t</sub>)&nbsp; (s = {_n(c)})"
                     "</p>")
    html += ("<p style='color:#777'>ε<sub>c</sub> = ε<sub>θ</sub>(x<sub>t</sub>, y), ε<sub>u</sub> = "
             "ε<sub>θ</sub>(x<sub>t</sub>, ∅); s = 1 is plain conditional, s = 0 unconditional, s &gt; 1 pushes "
             "away from the unconditional prediction.")
    if z is None:
        html += " " + (m.sizes_note or "The sizes of the terms are shown for the steps of a finished run (the "
                       "model is asked again at the step on screen).")
    return html + "</p>"


TERM_PATTERNS = (  # (HTML of a term as the panel writes it, its key in help_texts.TERMS); longest first
    ("ε̂<sub>θ</sub>", "eps"), ("ᾱ<sub>t</sub>", "abar"), ("β<sub>t</sub>", "beta"), ("x<sub>t</sub>", "x_t"),
    ("<i>x̂</i>₀", "x0"), ("σ<sub>t</sub>", "sigma"), ("log-SNR", "snr"), ("x₀", "x0"), ("ε", "eps"),
)
_TERM_RE = re.compile("|".join(re.escape(text) for text, _ in TERM_PATTERNS))
_TERM_KEYS = dict(TERM_PATTERNS)


def link_terms(html: str) -> str:
    """Wrap each formula term in a link (``term:KEY``) so hovering it can explain it and light up its curve."""
    parts = re.split(r"(<[^>]*>)", html)  # never touch the inside of a tag
    return "".join(part if part.startswith("<") else _TERM_RE.sub(_link, part) for part in parts)


def _link(match: re.Match) -> str:
    return f"<a href='term:{_TERM_KEYS[match.group(0)]}' style='{TERM_STYLE}'>{match.group(0)}</a>"


def _link_subscripts(html: str) -> str:
    """Terms with subscripts span tags (x<sub>t</sub>): link those first, then plain-text terms."""
    for text, key in TERM_PATTERNS:
        if "<" in text:
            html = html.replace(text, f"\x00{key}\x01")
    html = link_terms(html)
    for text, key in TERM_PATTERNS:
        if "<" in text:
            html = html.replace(f"\x00{key}\x01", f"<a href='term:{key}' style='{TERM_STYLE}'>{text}</a>")
    return html


class MathsPanel(QWidget):
    """A read-only rich-text view; :meth:`show_state` rewrites it for the step under the playhead.

    A QTextBrowser (one document layout per update, a few ms) rather than a word-wrapped QLabel (which lays its
    text out several times per update, about six times slower), so the panel can follow every screen refresh
    during a run. Hovering a formula term shows what it is and emits ``termHovered(key)`` ('' when it leaves).
    """

    termHovered = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.browser = QTextBrowser()
        self.browser.setOpenLinks(False)
        self.browser.setFrameShape(QTextBrowser.Shape.NoFrame)
        self.browser.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.browser.highlighted.connect(self._on_hover)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.browser)
        self.state: MathsState | None = None
        self._html = ""

    def show_state(self, state: MathsState) -> None:
        if state == self.state:
            return
        self.state = state
        if state.reverse:
            flow = "" if state.flow is None else flow_html(state.flow, state.sampler, state.eta, state.clip_x0,
                                                            state.third)
            html = reverse_html(state) + flow + guidance_html(state) + forward_html(state.schedule, state.t)
        else:
            html = forward_html(state.schedule, state.t) + reverse_html(state) + guidance_html(state)
        self._html = html
        bar = self.browser.verticalScrollBar()
        keep = bar.value()
        self.browser.setHtml(_link_subscripts(html))
        bar.setValue(keep)

    def text(self) -> str:
        """The panel's text as HTML, without the term links."""
        return self._html

    def _on_hover(self, url: QUrl) -> None:
        key = url.toString().removeprefix("term:") if url.toString().startswith("term:") else ""
        if key in TERMS:
            QToolTip.showText(QCursor.pos(), TERMS[key][0], self.browser)
        else:
            QToolTip.hideText()
        self.termHovered.emit(key if key in TERMS else "")
