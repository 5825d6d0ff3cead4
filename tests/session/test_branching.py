"""Branches: the trunk is shared up to the branch step, and they cost M x (steps left) model calls, no more."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from diffusion_studio.errors import OptionError
from diffusion_studio.session.branching import branch
from diffusion_studio.session.run import Run
from tests.session.conftest import FakeModel, fake_prepared


def test_branches_share_the_trunk_and_cost_only_their_steps() -> None:
    model = FakeModel()
    trunk = Run.start(fake_prepared(model, sampler="ddpm", T=80, seed=1))
    assert model.evaluations == 80
    result = branch(trunk, 30, 3)
    i = result.at_index
    assert trunk.timesteps[i] == result.at_t == 30
    steps_left = len(trunk.timesteps) - i
    assert model.evaluations == 80 + 3 * steps_left  # counted by the model itself
    assert [b.model_calls for b in result.branches] == [steps_left] * 3
    for b in result.branches:
        assert b.steps[:i] == trunk.steps[:i]  # the same recorded objects
        assert all(b.steps[k] is trunk.steps[k] for k in range(i))
        np.testing.assert_array_equal(b.steps[i].x_t, trunk.steps[i].x_t)  # starts from the trunk's x_t
        assert torch.equal(b.x_t_float(i), trunk.x_t_float(i))
        assert len(b.steps) == len(trunk.steps) and b.finished
    finals = [b.final.x_t for b in result.branches]
    assert not np.array_equal(finals[0], finals[1])  # fresh noise per branch
    assert not np.array_equal(finals[0], trunk.final.x_t)
    assert result.spread(trunk.timesteps[i - 1]).max() == 0  # before the branch: all the same
    assert result.spread(-1).max() > 0
    assert result.spread_map().shape == (8, 8, 3)


def test_branches_are_reproducible() -> None:
    trunk = Run.start(fake_prepared(FakeModel(), sampler="ddpm", T=40, seed=2))
    a, b = branch(trunk, 20, 2), branch(trunk, 20, 2)
    np.testing.assert_array_equal(a.branches[1].final.x_t, b.branches[1].final.x_t)


def test_deterministic_sampler_and_bad_points_are_refused() -> None:
    ddim = Run.start(fake_prepared(FakeModel(), sampler="ddim", steps=10, T=100))
    with pytest.raises(OptionError, match="deterministic"):
        branch(ddim, 50, 2)
    ddpm = Run.start(fake_prepared(FakeModel(), sampler="ddpm", T=40))
    with pytest.raises(OptionError, match="between"):
        branch(ddpm, 400, 2)
    with pytest.raises(OptionError):
        branch(ddpm, 10, 0)
