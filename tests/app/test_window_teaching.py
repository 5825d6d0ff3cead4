"""Teaching defaults and in-place explanation: the first launch, notes on choices that teach something
surprising, the SDEdit start on the timeline, hover help, and guidance in the maths panel."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PySide6.QtCore import QPointF, Qt, QUrl

from diffusion_studio.app.guidance_size import guidance_size
from diffusion_studio.app.help_texts import FIRST_LAUNCH, TERMS, start_note
from diffusion_studio.app.maths_panel import link_terms
from diffusion_studio.core.plan import SamplingPlan
from diffusion_studio.core.samplers import Guidance
from diffusion_studio.core.schedules import make_schedule
from diffusion_studio.models import describe_models
from diffusion_studio.models.base import ModelInfo, NoisePredictor
from diffusion_studio.runs import PreparedRun


@pytest.fixture
def first_window(make_window, tmp_path):
    return lambda: make_window(settings_path=tmp_path / "fresh.ini", configure=False)


def test_first_launch_shows_a_photo_and_is_set_for_a_guided_digits_run(first_window):
    w = first_window()
    assert w.first_launch and w.view == "forward"
    assert w.image_name == "chelsea.png" and w.forward.image.shape[2] == 3  # a bundled photo, noised on screen
    c = w.controls
    assert c.model.currentData() == "digits" and c.method.currentData() == "ddim" and c.steps.value() == 50
    assert c.class_name() == "7" and c.guidance.value() == FIRST_LAUNCH["guidance"] and c.source() == "noise"
    request = c.request(w.forward.image)
    assert request.class_label == 7 and request.cfg_scale == 3.0 and request.plan.strength is None


@pytest.mark.slow
def test_first_launch_run_draws_a_guided_digit_in_50_steps(first_window, qtbot):
    w = first_window()
    with qtbot.waitSignal(w.runEnded, timeout=120000) as ended:
        w.run_bar.run_button.click()
    assert ended.args == ["finished", ""]
    info = w.session.info
    assert info.model == "digits" and info.steps == 50 and info.plan.sampler == "ddim"
    final = w.session.store.frames[-1].x_t
    assert final.shape == (28, 28, 1)
    assert 0.05 < (final > 128).mean() < 0.5  # a white stroke on black, not noise or a blank


def test_choosing_ideal_explains_memorisation(make_window):
    w = make_window()
    c = w.controls
    c.model.setCurrentIndex(c.model.findData("ideal"))
    assert c.model_note.isVisibleTo(c) and "memorisation" in c.model_note.text()
    assert "one of its reference pictures" in c.model_note.text()
    c.model.setCurrentIndex(c.model.findData("digits"))
    assert not c.model_note.isVisibleTo(c)


def test_a_colour_photo_for_the_grey_digits_model_is_named_before_the_run(make_window):
    w = make_window()
    c = w.controls
    c.model.setCurrentIndex(c.model.findData("digits"))
    c.sample_radio.setChecked(True)
    text = c.start_note.text()
    assert c.start_note.isVisibleTo(c)
    assert "grey" in text and "28 × 28" in text and f"t₀ = {c.start_t()}" in text and "Pure noise" in text
    c.noise_radio.setChecked(True)
    assert not c.start_note.isVisibleTo(c)


def test_start_note_is_silent_when_the_picture_suits():
    digits = next(i for i in describe_models() if i.name == "digits")
    assert start_note(digits, "sample", (28, 28, 1), 500) == ""
    colour = start_note(digits, "sample", (28, 28, 3), 500)
    assert "grey" in colour and "squeezed" not in colour
    assert "squeezed from 64 × 48 to 28 × 28" in start_note(digits, "own", (48, 64, 1), 500)


def test_the_sdedit_start_is_marked_on_the_timeline(make_window, qtbot):
    w = make_window()
    timeline = w.player.timeline
    assert timeline.start_mark is None  # pure noise: no t0
    w.controls.sample_radio.setChecked(True)
    w.controls.strength.setValue(0.5)
    assert timeline.start_mark == w.controls.start_t() == round(0.5 * 49)
    assert any(text == f"t₀ = {timeline.start_mark}" for _, text, _ in timeline.captions())
    w.controls.method.setCurrentIndex(w.controls.method.findData("ddim"))
    w.controls.steps.setValue(10)
    with qtbot.waitSignal(w.runEnded, timeout=20000):
        w.start_run()
    assert timeline.start_mark == w.session.info.timesteps[0] <= round(0.5 * 49)


def test_pane_titles_and_plot_curves_have_hover_help(make_window):
    w = make_window()
    assert all(title.toolTip() for title in w.canvas.titles)
    assert "closed-form" in w.canvas.titles[0].toolTip()
    w.set_view("reverse")
    assert "model's guess" in w.canvas.titles[1].toolTip()
    assert all(curve.toolTip() for curve in w.plot.curves.values())


def test_hovering_a_formula_term_lights_up_its_curve_and_pane(make_window):
    w = make_window()
    html = link_terms("ᾱ = 1 and x₀ <b>ε</b>")
    assert "href='term:x0'" in html and "href='term:eps'" in html
    w.maths.browser.highlighted.emit(QUrl("term:abar"))
    assert w.plot.curves["alpha_bar"].opts["pen"].width() > 2
    w.maths.browser.highlighted.emit(QUrl("term:eps"))
    assert w.canvas.boxes[2].border is not None and w.canvas.boxes[2].border.width() > 1
    assert w.plot.curves["alpha_bar"].opts["pen"].width() == 2
    w.maths.browser.highlighted.emit(QUrl(""))
    assert all(box.border is None or box.border.style() == Qt.PenStyle.NoPen for box in w.canvas.boxes)
    assert set(TERMS) >= {"abar", "beta", "x_t", "x0", "eps"}


def test_maths_shows_guidance_with_live_numbers(make_window):
    w = make_window()
    c = w.controls
    c.model.setCurrentIndex(c.model.findData("digits"))
    c.set_class_name("7")
    c.guidance.setValue(3.0)
    text = w.maths.text()
    assert "class “7”, s = 3" in text and "<b>−2</b>·ε<sub>u</sub> + <b>3</b>·ε<sub>c</sub>" in text
    c.set_class_name(None)
    assert "No class chosen" in w.maths.text()


def test_maths_shows_classifier_guidance_coefficients(make_window):
    w = make_window()
    c = w.controls
    c.model.setCurrentIndex(c.model.findData("digits"))
    c.set_class_name("4")
    c.classifier_scale.setValue(2.0)
    w.player.timeline.set_t(500, emit=True)
    w._update_maths()
    abar = float(c.schedule().alpha_bars[500])
    assert "Algorithm 1" in w.maths.text()  # DDPM: a mean shift s·Σ·∇log p
    c.method.setCurrentIndex(c.method.findData("ddim"))
    w._update_maths()
    assert "Algorithm 2" in w.maths.text()
    assert f"<b>{2 * np.sqrt(1 - abar):.4g}</b>" in w.maths.text()


def test_maths_follows_the_step_on_screen_during_a_run(make_window, qtbot):
    w = make_window()
    with qtbot.waitSignal(w.runEnded, timeout=20000):
        w.start_run()
    for t in (40, 17, 3):
        w.player.timeline.set_t(t, emit=True)
        qtbot.waitUntil(lambda t=t: w.maths.state is not None and w.maths.state.t == t, timeout=2000)
        assert f"Reverse step t = {t}" in w.maths.text()


def _hover(w, qtbot, row: int, col: int) -> None:
    """Move the mouse over a pixel of the left pane, as the scene reports it (once the panes are laid out)."""
    box = w.canvas.boxes[0]
    qtbot.waitUntil(lambda: box.viewRange()[0][1] > col + 1, timeout=2000)
    w.canvas._on_mouse_moved(box.mapViewToScene(QPointF(col + 0.5, row + 0.5)))


def test_the_readout_follows_the_playhead_and_shows_raw_values(make_window, qtbot):
    w = make_window()
    _hover(w, qtbot, 4, 6)
    assert w.canvas.readout.text().startswith("pixel (6, 4)")
    t = w.player.timeline.t_max
    w.player.timeline.set_t(t, emit=True)  # keys or playback: the mouse has not moved
    f = w.forward
    x0 = f.image[4, 6] / 127.5 - 1
    raw = f.schedule.sqrt_alpha_bars[t] * x0 + f.schedule.sqrt_one_minus_alpha_bars[t] * f.eps[4, 6]
    text = w.canvas.readout.text()
    assert "xₜ = " + " ".join(f"{v:+.2f}" for v in raw) in text  # unclipped: agrees with ε
    assert "ε = " + " ".join(f"{v:+.2f}" for v in f.eps[4, 6]) in text


def test_the_readout_follows_the_view_with_raw_run_values(make_window, qtbot):
    w = make_window()
    with qtbot.waitSignal(w.runEnded, timeout=20000):
        w.start_run()
    _hover(w, qtbot, 2, 3)
    first = w.session.store.frames[0]
    w.player.timeline.set_t(first.t, emit=True)
    text = w.canvas.readout.text()
    raw = first.tensor(0)
    if raw is not None:  # the store keeps the run's tensors: the value as the sampler made it, unclipped
        shown = f"{float(raw[0, 0, 2, 3]):+.2f}"
        assert (raw.abs() > 1).any()  # x_T has values beyond ±1: a picture would clip them
    else:  # pictures only: a value at the end of the display range is shown as a bound
        code = first.x_t[2, 3, 0]
        shown = "≤-1.00" if code == 0 else "≥+1.00" if code == 255 else f"{code / 127.5 - 1:+.2f}"
    assert text.startswith("pixel (3, 2)") and f"xₜ = {shown}" in text
    w.set_view("forward")
    assert w.canvas.readout.text() == w.canvas.describe_pixel(2, 3)


def test_the_readout_marks_values_at_the_display_bounds_when_only_pictures_are_known(make_window):
    w = make_window()
    canvas = w.canvas
    canvas.set_raw(None)
    canvas.set_images([np.array([[[0], [255], [128]]], np.uint8)] * 3)
    text = canvas.describe_pixel(0, 0) + " | " + canvas.describe_pixel(0, 1) + " | " + canvas.describe_pixel(0, 2)
    assert "xₜ = ≤-1.00" in text and "xₜ = ≥+1.00" in text and "xₜ = +0.00" in text


class _Conditional(NoisePredictor):
    """eps = 0.1 x_t + 0.01 y: the class shifts the prediction by a known amount."""

    def __init__(self) -> None:
        self.info = ModelInfo(name="cond", image_size=None, channels=None, prediction="epsilon")

    def forward(self, x_t, t, schedule, y=None):
        shift = 0.0 if y is None else 0.01 * y.float().view(-1, 1, 1, 1)
        return 0.1 * x_t + shift


def test_guidance_size_recomputes_the_terms_of_a_step():
    schedule = make_schedule("linear", 50)
    plan = SamplingPlan(sampler="ddim", guidance=Guidance(label=3, null_class=10, cfg_scale=2.5))
    prepared = PreparedRun(_Conditional(), schedule, (1, 4, 4), None, None, plan, torch.device("cpu"))
    x_t = torch.randn(1, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    size = guidance_size(prepared, x_t, 30, 29)
    assert abs(size.difference - 0.07) < 1e-6 and abs(size.cfg_term - 2.5 * 0.07) < 1e-6
    expected_eps = 0.1 * x_t + 0.01 * 10 + 2.5 * (0.01 * 3 - 0.01 * 10)
    assert abs(size.eps - float(expected_eps.pow(2).mean().sqrt())) < 1e-6 and size.classifier_term is None
    unguided = PreparedRun(_Conditional(), schedule, (1, 4, 4), None, None, SamplingPlan(), torch.device("cpu"))
    assert guidance_size(unguided, x_t, 30, 29) is None


@pytest.mark.slow
def test_maths_shows_the_size_of_the_guidance_at_the_step_on_screen(first_window, qtbot):
    w = first_window()  # digits, class 7, guidance 3, DDIM 50
    with qtbot.waitSignal(w.runEnded, timeout=120000):
        w.start_run()
    frame = w.session.store.frames[20]
    w.player.timeline.set_t(frame.t, emit=True)
    qtbot.waitUntil(lambda: w.maths.state is not None and w.maths.state.t == frame.t, timeout=5000)
    sizes = w.maths.state.sizes
    assert sizes is not None and sizes.cfg_term > 0 and abs(sizes.cfg_term - 3 * sizes.difference) < 1e-9
    direct = guidance_size(w._probe.prepared, frame.tensor(0), frame.t, frame.t_prev)
    assert abs(direct.cfg_term - sizes.cfg_term) < 1e-6
    assert "at this step" in w.maths.text() and f"<b>{sizes.cfg_term:.4g}</b>" in w.maths.text()


def test_a_long_run_of_a_trained_model_is_priced_before_it_starts(make_window):
    w = make_window()
    c = w.controls
    c.model.setCurrentIndex(c.model.findData("digits"))
    c.method.setCurrentIndex(c.method.findData("ddpm"))
    c.steps.setValue(0)  # auto: every t
    assert c.cost_note.isVisibleTo(c) and "1000 steps" in c.cost_note.text() and "DDIM" in c.cost_note.text()
    c.method.setCurrentIndex(c.method.findData("ddim"))
    assert not c.cost_note.isVisibleTo(c)  # auto = 50 steps
    c.model.setCurrentIndex(c.model.findData("ideal"))
    c.method.setCurrentIndex(c.method.findData("ddpm"))
    assert not c.cost_note.isVisibleTo(c)  # closed form: fast
