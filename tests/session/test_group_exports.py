"""Labelled exports: each cell carries its run's label (drawn: ink in the caption strip), GIF and PNG grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from diffusion_studio.io import layout as io_layout
from diffusion_studio.session.branching import branch
from diffusion_studio.session.compare import RunGroup
from diffusion_studio.session.exports import GroupExport, export_group_gif, export_group_png, group_frame
from diffusion_studio.session.filmstrip import export_filmstrip
from diffusion_studio.session.run import Run
from tests.session.conftest import FakeModel, fake_prepared


def _group() -> RunGroup:
    a = Run.start(fake_prepared(FakeModel(), sampler="ddpm", T=50), "DDPM")
    b = Run.start(fake_prepared(FakeModel(), sampler="ddim", steps=5, T=50), "DDIM, 5 steps")
    return RunGroup([a, b], "t")


def test_labels_are_passed_and_drawn(monkeypatch) -> None:
    seen: list[str | None] = []
    real = io_layout.compose

    def spy(frame, label, layout):
        seen.append(label)
        return real(frame, label, layout)

    monkeypatch.setattr("diffusion_studio.session.exports.compose", spy)
    spec = GroupExport(("x_t", "x0", "diff"), scale=4)
    picture = group_frame(_group(), 23, spec)  # DDIM 5 of T = 50 visits 40, 30, 20, 10, 0
    assert seen == ["DDPM", "DDIM, 5 steps (t = 20)"]
    panel_h = 8 * 4
    strip = picture[panel_h:]  # the caption strips under the panels
    assert strip.shape[0] > 8 and (strip < 128).any(axis=2).sum() > 30  # dark ink: the text was drawn
    assert (picture[panel_h:, :] == 255).all(axis=2).mean() > 0.5  # mostly background around it


def test_gif_and_png_grid_are_written(tmp_path: Path) -> None:
    group = _group()
    spec = GroupExport(("x_t", "x0"), scale=2)
    summary = export_group_gif(tmp_path / "c.gif", group, spec, frame_count=12)
    with Image.open(summary.path) as im:
        assert im.n_frames >= 2
    export_group_png(tmp_path / "g.png", group, spec, rows=3)
    with Image.open(tmp_path / "g.png") as im:
        assert im.width > 2 * 2 * 8 * 2 and im.height > 3 * 16


def test_branch_exports_with_the_spread_cell(tmp_path: Path) -> None:
    trunk = Run.start(fake_prepared(FakeModel(), sampler="ddpm", T=30), "trunk")
    result = branch(trunk, 10, 2)
    spec = GroupExport(("x_t", "x0"), scale=2, extras=(("spread", result.spread_map),))
    frame = group_frame(result.group, -1, spec)
    assert frame.ndim == 3 and frame.shape[2] == 3
    export_group_png(tmp_path / "b.png", result.group, spec, rows=2)
    assert (tmp_path / "b.png").stat().st_size > 0


def test_filmstrip_marks_the_decision_step(tmp_path: Path) -> None:
    run = Run.start(fake_prepared(FakeModel(), sampler="ddpm", T=40), "one")
    path, strip = export_filmstrip(tmp_path / "s.png", run, 5, 0.2, scale=4)
    arr = np.asarray(Image.open(path).convert("RGB")).astype(int)
    red = (arr[..., 0] > 200) & (arr[..., 1] < 60) & (arr[..., 2] < 60)
    assert red.sum() > 0  # the decision step's frame
