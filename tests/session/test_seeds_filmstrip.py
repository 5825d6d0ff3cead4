"""Seed grids and the x0 filmstrip with its decision step."""

from __future__ import annotations

import numpy as np
import pytest

from diffusion_studio.errors import OptionError
from diffusion_studio.session.filmstrip import decision_index, filmstrip, x0_distances
from diffusion_studio.session.run import Run
from diffusion_studio.session.seeds import grid_columns, parse_seeds, seed_grid
from tests.session.conftest import FakeModel, fake_prepared


def test_parse_seeds() -> None:
    assert parse_seeds("0-8") == list(range(9))
    assert parse_seeds("1,5, 9,13") == [1, 5, 9, 13]
    assert parse_seeds("0-2,7") == [0, 1, 2, 7]
    for bad in ("x", "3", "0-100", "1,1", ""):
        with pytest.raises(OptionError):
            parse_seeds(bad)
    assert grid_columns(4) == 2 and grid_columns(9) == 3


def test_seed_grid_is_each_seed_alone_on_one_playhead() -> None:
    model = FakeModel()
    prepared = fake_prepared(model, sampler="ddim", steps=10, T=100, seed=0)
    group = seed_grid(prepared, [4, 5, 6, 7])
    assert group.labels == ["seed 4", "seed 5", "seed 6", "seed 7"] and model.evaluations == 40
    assert len({r.steps[0].x_t.tobytes() for r in group.runs}) == 4  # different start noise per seed
    alone = Run.start(fake_prepared(FakeModel(), sampler="ddim", steps=10, T=100, seed=6))
    np.testing.assert_array_equal(alone.final.x_t, group.runs[2].final.x_t)
    assert [f.t for f in group.frames_at(50)] == [50] * 4


def test_decision_step_is_the_first_that_stays_close() -> None:
    run = Run.start(fake_prepared(FakeModel(), sampler="ddpm", T=60, seed=1))
    d = x0_distances(run)
    k = decision_index(run, 0.2)
    assert all(v <= 0.2 for v in d[k:]) and (k == 0 or d[k - 1] > 0.2)
    strip = filmstrip(run, 6, 0.2)
    assert strip.decision is run.steps[k] and strip.decision in strip.steps
    assert sum(label.endswith("decided") for label in strip.labels()) == 1
    assert strip.steps[0] is run.steps[0] and strip.steps[-1] is run.steps[-1]
