"""The Lenses window while scrubbing: the spectrum cache, the values on screen against numpy references, a fixed
view, coalesced bursts, and the trajectory fits coming from the background job before the error lens."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from diffusion_studio.app import lens_window
from diffusion_studio.app.lens_window import LensFrame, LensWindow, TrajectoryFits, fit_paths, lens_frames
from diffusion_studio.core.cancel import CancelToken
from diffusion_studio.core.lens_error import ErrorCurve
from diffusion_studio.core.lens_spectrum import crossover_frequency
from diffusion_studio.core.plan import SamplingPlan
from diffusion_studio.runs import RunRequest

N, SIDE = 12, 16


def _frames(seed: int = 0) -> list[LensFrame]:
    """A made-up run: a smooth picture noised less and less (abar rising), as the job would stream it."""
    g = torch.Generator().manual_seed(seed)
    img = torch.randn(3, SIDE, SIDE, generator=g).cumsum(-1).cumsum(-2) / 10
    frames = []
    for i, abar in enumerate(np.linspace(0.02, 0.98, N)):
        eps = torch.randn(3, SIDE, SIDE, generator=g)
        x_t = float(abar) ** 0.5 * img + (1 - float(abar)) ** 0.5 * eps
        frames.append(LensFrame(10 * (N - 1 - i), float(abar), x_t.half(), (img + eps / (i + 1)).half(), eps.half(),
                                x_t.half()))
    return frames


def _window(qtbot, fits: bool = True) -> LensWindow:
    w = LensWindow()
    qtbot.addWidget(w)
    w.show()
    w.frames = _frames()
    w._neg_ts = [-f.t for f in w.frames]
    if fits:
        w._on_frame(fit_paths([f.x_t.float() for f in w.frames] + [w.frames[-1].x_prev.float()],
                              [f.x0.float() for f in w.frames]))
    else:
        w.show_t(0)
    qtbot.waitUntil(lambda: not w._pending.isActive(), timeout=2000)
    return w


def _move(qtbot, w: LensWindow, t: int) -> None:
    with qtbot.waitSignal(w.updated, timeout=2000):
        w.show_t(t)


def _numpy_radial(x: torch.Tensor) -> np.ndarray:
    """Reference ring averages of |FFT2|^2 / (H W) over the full spectrum, channel-averaged (numpy only)."""
    a = x.double().numpy()
    h, w = a.shape[-2:]
    power = (np.abs(np.fft.fft2(a)) ** 2).mean(axis=0) / (h * w)
    n = min(h, w)
    ring = np.rint(np.hypot(np.fft.fftfreq(h)[:, None], np.fft.fftfreq(w)[None, :]) * n)
    return np.array([power[ring == k].mean() for k in range(1, n // 2 + 1)])


def test_a_step_spectrum_is_computed_once_then_cached(qtbot, monkeypatch) -> None:
    w = _window(qtbot)
    computed: list[float] = []
    real = lens_window.step_spectrum

    def counting(x_t, x0, eps, alpha_bar):
        computed.append(alpha_bar)
        return real(x_t, x0, eps, alpha_bar)

    monkeypatch.setattr(lens_window, "step_spectrum", counting)
    f = w.frames
    assert sorted(w._cache) == [N - 1]  # the playhead starts at t = 0, the last step
    for k in (3, 7, 3, 7, 0, 3):
        _move(qtbot, w, f[k].t)
        assert w.spectrum.title().startswith(f"t = {f[k].t},")
    assert computed == [f[3].alpha_bar, f[7].alpha_bar, f[0].alpha_bar]  # once per new step, revisits cached
    _move(qtbot, w, -1)  # the finished picture shows the last step's spectrum, from the cache
    assert w.spectrum.title().endswith("(last step)")
    _move(qtbot, w, f[-1].t)
    assert len(computed) == 3 and sorted(w._cache) == [0, 3, 7, N - 1]


def test_plots_show_the_numpy_reference_values(qtbot) -> None:
    w = _window(qtbot)
    sigmas = np.sqrt([(1 - f.alpha_bar) / f.alpha_bar for f in w.frames])
    err = np.linspace(1.0, 0.01, N)
    w._on_frame(ErrorCurve(sigmas, np.arange(N, dtype=float), err / 2, err, 0.01, N, 8 * N))
    # PCA reference: numpy SVD of the centred x_t path (steps and the finished picture)
    x = np.stack([f.x_t.double().numpy().ravel() for f in w.frames] + [w.frames[-1].x_prev.double().numpy().ravel()])
    u, s, _ = np.linalg.svd(x - x.mean(0), full_matrices=False)
    ref_xt = u[:, :2] * s[:2]
    coords = w.trajectory.coords["x_t"]
    for c in range(2):  # the same components up to sign
        sign = np.sign(coords[:, c] @ ref_xt[:, c])
        np.testing.assert_allclose(coords[:, c], sign * ref_xt[:, c], atol=1e-3 * s[0])
    for k in (0, 5, N - 1, 5):
        f = w.frames[k]
        _move(qtbot, w, f.t)
        p_x0 = _numpy_radial(f.x0)
        for key, ref in (("x_t", _numpy_radial(f.x_t)), ("x0", p_x0), ("eps", _numpy_radial(f.eps)),
                         ("signal", f.alpha_bar * p_x0)):
            freqs, shown = w.spectrum.curve_data(key)
            np.testing.assert_allclose(freqs, np.arange(1, SIDE // 2 + 1) / SIDE, rtol=1e-12)
            np.testing.assert_allclose(shown, np.maximum(ref, 1e-12), rtol=1e-9)
        assert 10 ** w.spectrum.floor.value() == pytest.approx(1 - f.alpha_bar, rel=1e-12)
        cross = crossover_frequency(freqs, f.alpha_bar * p_x0, 1 - f.alpha_bar)
        if cross is None:
            assert not w.spectrum.crossover.isVisible()
        else:
            assert 10 ** w.spectrum.crossover.value() == pytest.approx(cross, rel=1e-9)
        assert w.trajectory.marker_position("x_t") == tuple(coords[k])
        assert w.trajectory.marker_position("x0") == tuple(w.trajectory.coords["x0"][k])
        assert w.error.marker_position() == pytest.approx((sigmas[k], err[k]), rel=1e-12)


def test_the_spectrum_view_holds_every_curve_and_stays_put(qtbot) -> None:
    w = _window(qtbot, fits=False)
    box = w.spectrum.plot.getViewBox()
    for f in w.frames:  # the view grows to hold every step shown
        _move(qtbot, w, f.t)
        (x0, x1), (y0, y1) = box.viewRange()
        for curve in w.spectrum.curves.values():
            x, y = curve.getData()
            assert x0 <= x.min() and x.max() <= x1 and y0 <= y.min() and y.max() <= y1
        assert y0 <= w.spectrum.floor.value() <= y1
    fixed = box.viewRange()
    for k in (4, 0, 9, 2):  # steps already seen: no rescale, whatever the move
        _move(qtbot, w, w.frames[k].t)
        assert box.viewRange() == fixed
    w.spectrum.show_spectrum(None)  # a new run starts from a fresh fit
    assert w.spectrum.view_y is None


def test_a_burst_of_moves_costs_two_updates_and_shows_the_newest(qtbot) -> None:
    w = _window(qtbot)
    updates: list[int] = []
    w.updated.connect(lambda: updates.append(1))
    for f in w.frames:  # all in one event-loop pass
        w.show_t(f.t)
    assert len(updates) == 1  # the first move at once, the rest noted
    qtbot.waitUntil(lambda: len(updates) == 2, timeout=2000)
    assert w.spectrum.title().startswith(f"t = {w.frames[-1].t},")
    assert w.trajectory.marker_position("x_t") == tuple(w.trajectory.coords["x_t"][N - 1])
    qtbot.wait(20)
    assert len(updates) == 2


def test_a_closed_window_does_nothing_until_shown_again(qtbot, monkeypatch) -> None:
    w = _window(qtbot)
    computed: list[float] = []
    real = lens_window.step_spectrum
    monkeypatch.setattr(lens_window, "step_spectrum", lambda *a: computed.append(a[3]) or real(*a))
    updates: list[int] = []
    w.updated.connect(lambda: updates.append(1))
    w.close()
    for f in w.frames[:6]:
        w.show_t(f.t)
    qtbot.wait(20)
    assert not updates and not computed
    with qtbot.waitSignal(w.updated, timeout=2000):
        w.show()
    assert w.spectrum.title().startswith(f"t = {w.frames[5].t},") and computed == [w.frames[5].alpha_bar]


def test_an_unguided_run_leaves_the_guidance_panel_alone(qtbot) -> None:
    w = _window(qtbot)
    text = w.cfg.caption.text()
    assert "no classifier-free guidance in this run" in text and not w.cfg.guided
    for k in (2, 6):
        _move(qtbot, w, w.frames[k].t)
        assert w.cfg.caption.text() == text and not w.cfg.shown and w.cfg.image.image is None


def test_the_job_fits_the_trajectory_before_the_error_reference() -> None:
    request = RunRequest(model="gaussian", size=8, T=100, plan=SamplingPlan(sampler="ddim", steps=6))
    items = list(lens_frames(request, CancelToken()))
    kinds = [type(item).__name__ for item in items]
    assert kinds == ["LensFrame"] * 6 + ["TrajectoryFits", "ErrorCurve"]
    fits = items[6]
    assert isinstance(fits, TrajectoryFits)
    assert fits.x_t.coords[0].shape == (7, 2) and fits.x0.coords[0].shape == (6, 2)


def test_line_labels_follow_their_lines_on_a_fixed_view(qtbot) -> None:
    """The view does not move with the playhead, so a line shown again must place its label itself."""
    w = LensWindow()
    qtbot.addWidget(w)
    w.show()
    w.show_t(-1)  # the playhead on the finished picture while the run streams in
    for f in _frames():
        w._on_frame(f)
    qtbot.waitUntil(lambda: not w._pending.isActive(), timeout=2000)
    box = w.spectrum.plot.getViewBox().sceneBoundingRect()
    for k in (0, 3, 6):
        _move(qtbot, w, w.frames[k].t)
        assert w.spectrum.crossover.isVisible()
        for line in (w.spectrum.crossover, w.spectrum.floor):
            assert box.contains(line.label.sceneBoundingRect().center())


def test_a_diverged_step_leaves_gaps_not_errors(qtbot, recwarn) -> None:
    w = _window(qtbot, fits=False)
    w.show()
    good = w.frames[4]
    nan = torch.full_like(good.x_t, float("nan"))
    w.frames[5] = LensFrame(good.t - 10, 0.5, torch.where(torch.rand(good.x_t.shape) > 0.5, good.x_t, nan), nan,
                            good.eps, good.x_prev)
    for k in (4, 5, 3):
        _move(qtbot, w, w.frames[k].t)
        qtbot.wait(20)  # painted
        assert all(np.isfinite(v) for v in w.spectrum.view_y)
    assert not [str(w.message) for w in recwarn if "exception" in str(w.message).lower()]  # pyqtgraph's paint errors


def test_long_paths_are_drawn_without_a_dot_per_step(qtbot) -> None:
    from diffusion_studio.app.lens_trajectory import MAX_DOTS, TrajectoryPanel
    from diffusion_studio.core.lens_trajectory import trajectory_pca

    panel = TrajectoryPanel()
    qtbot.addWidget(panel)
    walk = torch.randn(MAX_DOTS + 50, 3, 4, 4, generator=torch.Generator().manual_seed(0)).cumsum(0)
    for frames, dots in ((walk, None), (walk[:20], "o")):
        fit = trajectory_pca([frames])
        panel.set_trajectories({"x_t": fit, "x0": fit})
        for key in ("x_t", "x0"):
            assert panel.curves[key].opts["symbol"] == dots
            assert len(panel.curves[key].getData()[0]) == len(frames)
