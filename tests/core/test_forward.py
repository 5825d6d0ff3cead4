"""Forward process: q_sample statistics and the chained one-step process against the closed form."""

from __future__ import annotations

import pytest
import torch

from diffusion_studio.core import make_schedule, q_chain, q_posterior_mean, q_sample


def test_q_sample_is_the_reparameterisation() -> None:
    s = make_schedule("linear", 1000)
    x0 = torch.rand(3, 8, 8) * 2 - 1
    eps = torch.randn(3, 8, 8)
    for t in (0, 10, 500, 999):
        ab = s.alpha_bars[t]
        expected = ab**0.5 * x0 + (1 - ab) ** 0.5 * eps
        torch.testing.assert_close(q_sample(s, x0, t, eps), expected.float())


def test_q_sample_mean_and_variance_over_many_eps() -> None:
    s = make_schedule("cosine", 1000)
    x0 = torch.full((20000, 1), 0.7)
    eps = torch.randn(20000, 1, generator=torch.Generator().manual_seed(0))
    for t in (50, 400, 900):
        x = q_sample(s, x0, t, eps)
        assert x.mean().item() == pytest.approx(s.sqrt_alpha_bars[t] * 0.7, abs=0.02)
        assert x.var().item() == pytest.approx(1 - s.alpha_bars[t], rel=0.05, abs=0.002)


def test_q_sample_with_tensor_t_per_batch_item() -> None:
    s = make_schedule("linear", 100)
    x0 = torch.ones(3, 1, 2, 2)
    eps = torch.zeros(3, 1, 2, 2)
    x = q_sample(s, x0, torch.tensor([0, 50, 99]), eps)
    torch.testing.assert_close(
        x[:, 0, 0, 0], torch.tensor(s.sqrt_alpha_bars[[0, 50, 99]], dtype=torch.float32)
    )


def test_chained_transitions_match_closed_form_in_distribution() -> None:
    s = make_schedule("linear", 200)
    x0 = torch.full((20000,), -0.5)
    g = torch.Generator().manual_seed(1)
    chained = {t: x.clone() for t, x in q_chain(s, x0, g, t_end=150) if t in (10, 80, 150)}
    for t, x in chained.items():
        assert x.mean().item() == pytest.approx(s.sqrt_alpha_bars[t] * -0.5, abs=0.02)
        assert x.var().item() == pytest.approx(1 - s.alpha_bars[t], rel=0.05, abs=0.003)


def test_posterior_mean_matches_mu_tilde() -> None:
    s = make_schedule("linear", 1000)
    x0, xt = torch.randn(4), torch.randn(4)
    t = 300
    ab, abp, b = s.alpha_bars[t], s.alpha_bars[t - 1], s.betas[t]
    expected = abp**0.5 * b / (1 - ab) * x0 + (1 - b) ** 0.5 * (1 - abp) / (1 - ab) * xt
    torch.testing.assert_close(q_posterior_mean(s, x0, xt, t), expected.float(), rtol=1e-5, atol=1e-6)
