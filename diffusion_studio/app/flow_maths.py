"""The maths panel's "flow view" section: DDIM is Euler on the rescaled ODE, with the numbers of the step shown.

Written from :class:`~diffusion_studio.session.flow_check.FlowNumbers` (noise levels in both coordinates and the
check of the recorded step against the Euler step); the derivation is in :mod:`diffusion_studio.core.velocity`.
"""

from __future__ import annotations

import math

from diffusion_studio.session.flow_check import FlowNumbers

SUB_PREV = "<sub>prev</sub>"
XBAR = "<i>x̄</i>"  # italic: an upright x with a combining macron loses it in common sans fonts


def _n(v: float) -> str:
    return f"{v:.4g}".replace("-", "−")


def _gap(v: float) -> str:
    return f"{v:.1e}".replace("-", "−")


def flow_html(f: FlowNumbers, sampler: str, eta: float, clip_x0: bool, third: str = "eps") -> str:
    """The section: the rescaled ODE and its Euler step, its flow-matching form, v-hat, and the live check."""
    a, b = math.sqrt(f.abar_t), math.sqrt(1.0 - f.abar_t)
    html = (
        "<p style='margin-top:8px'><b>Flow view: DDIM is Euler on the rescaled ODE</b></p>"
        f"<p>{XBAR} = x<sub>t</sub>/√ᾱ<sub>t</sub>, σ = √((1−ᾱ)/ᾱ): d{XBAR}/dσ = ε̂<sub>θ</sub> "
        "(probability-flow ODE; Song et al. 2021 eq. 14, Karras et al. 2022 eq. 4). σ<sub>t</sub> = "
        f"<b>{_n(f.sigma_t)}</b> → σ{SUB_PREV} = <b>{_n(f.sigma_prev)}</b>; one Euler step:<br>"
        f"{XBAR}{SUB_PREV} = {XBAR}<sub>t</sub> + (σ{SUB_PREV} − σ<sub>t</sub>)·ε̂<sub>θ</sub> = {XBAR}<sub>t</sub> "
        f"<b>{'+' if f.sigma_prev >= f.sigma_t else '−'} {_n(abs(f.sigma_prev - f.sigma_t))}</b>·ε̂<sub>θ</sub>, "
        "which is DDIM's step with η = 0.</p>"
        "<p>Flow form: y = x<sub>t</sub>/(√ᾱ+√(1−ᾱ)) = (1−s)·<i>x̂</i>₀ + s·ε̂<sub>θ</sub>, s = "
        f"√(1−ᾱ)/(√ᾱ+√(1−ᾱ)): s<sub>t</sub> = <b>{_n(f.s_t)}</b> → s{SUB_PREV} = <b>{_n(f.s_prev)}</b>; "
        f"y{SUB_PREV} = y<sub>t</sub> + (s{SUB_PREV} − s<sub>t</sub>)·(ε̂<sub>θ</sub> − <i>x̂</i>₀): the velocity "
        "ε̂ − <i>x̂</i>₀ of rectified flow / flow matching (Liu et al. 2023; Lipman et al. 2023), the “flow "
        "velocity” pane.</p>"
        f"<p><i>v̂</i> = √ᾱ<sub>t</sub>·ε̂<sub>θ</sub> − √(1−ᾱ<sub>t</sub>)·<i>x̂</i>₀ = <b>{_n(a)}</b>·ε̂<sub>θ</sub> − "
        f"<b>{_n(b)}</b>·<i>x̂</i>₀ (Salimans &amp; Ho 2022), the “predicted v” pane"
        + (" (shown now)" if third == "v" else "") + ".</p>"
    )
    return html + _check_html(f, sampler, eta, clip_x0)


def _check_html(f: FlowNumbers, sampler: str, eta: float, clip_x0: bool) -> str:
    if f.gap is None:
        return ("<p style='color:#777'>The check of this step against the Euler step needs the step's tensors and "
                "the next recorded frame (a finished run that kept tensors).</p>")
    head = (f"<p>At this step: |recorded {XBAR}{SUB_PREV} − Euler {XBAR}{SUB_PREV}| ≤ <b>{_gap(f.gap)}</b> "
            f"(values up to {_n(f.size or 0.0)}): ")
    if f.same(f.gap):
        return head + "the same step, up to rounding.</p>"
    if f.same(f.implied_gap):
        return head + ("<i>x̂</i>₀ was clipped to [−1, 1], so the step followed the ε implied by the clipped <i>x̂</i>₀, "
                       f"(x<sub>t</sub> − √ᾱ<sub>t</sub>·<i>x̂</i>₀)/√(1−ᾱ<sub>t</sub>); with that ε the Euler step "
                       f"matches to {_gap(f.implied_gap or 0.0)}.</p>")
    why = {
        "ddpm": "DDPM adds fresh noise σ<sub>t</sub>·z: it samples the reverse SDE, not the ODE.",
        "ddim": f"DDIM with η = {_n(eta)} adds fresh noise.",
        "heun": "Heun corrects the Euler step with a second model call.",
        "dpmpp_2m": "DPM-Solver++(2M) also uses the previous step's <i>x̂</i>₀ (second order).",
    }.get(sampler, "")
    if clip_x0 and sampler == "ddpm":
        why += " (Its <i>x̂</i>₀ is clipped too.)"
    return head + f"not the Euler step. {why}</p>"
