"""Euler, Heun and DPM-Solver++(2M) from the window's Sampler menu: every step recorded, the maths says which."""

from __future__ import annotations

import pytest
from app_helpers import FakeModel


@pytest.mark.parametrize(("name", "calls_per_run"), [("euler", 10), ("heun", 19), ("dpmpp_2m", 10)])
def test_a_sigma_grid_sampler_runs_from_the_window(make_window, qtbot, name, calls_per_run):
    model = FakeModel()
    w = make_window(model)
    c = w.controls
    c.method.setCurrentIndex(c.method.findData(name))
    c.steps.setValue(10)
    assert not c.variance.isEnabled() and not c.eta.isEnabled()  # DDPM's σ² and DDIM's η do not apply
    with qtbot.waitSignal(w.runEnded, timeout=20000) as ended:
        w.start_run()
    assert ended.args == ["finished", ""]
    assert model.calls == calls_per_run  # Heun: two calls a step, except the last
    store = w.session.store
    assert len(store) == 11 and store.timesteps[-1] == -1
    recorded = store.timesteps
    w.player.timeline.set_t(recorded[2], emit=True)
    qtbot.waitUntil(lambda: "σ" in w.maths.text(), timeout=2000)
    words = {"euler": "Euler", "heun": "Heun", "dpmpp_2m": "DPM-Solver++(2M)"}[name]
    assert words in w.maths.text()


@pytest.mark.parametrize("sampler", ["euler", "heun", "dpmpp_2m"])
def test_the_maths_of_a_sigma_grid_step_never_says_x0_is_clipped(sampler):
    """Euler, Heun and DPM-Solver++ never clip x0-hat (diffusers' defaults), whatever the DDPM/DDIM clip box says."""
    from diffusion_studio.app.maths_panel import MathsState, reverse_html
    from diffusion_studio.core.schedules import make_schedule

    schedule = make_schedule("linear", 1000)
    assert "clipped" not in reverse_html(MathsState(schedule, 500, 400, sampler=sampler, clip_x0=True, reverse=True))
    assert "clipped" in reverse_html(MathsState(schedule, 500, 400, sampler="ddim", clip_x0=True, reverse=True))
