"""Guidance formulas (Dhariwal & Nichol 2021, Algorithms 1 and 2; CFG) and eps/x0/v conversions."""

from __future__ import annotations

import pytest
import torch

from diffusion_studio.core import (
    cfg_combine,
    classifier_log_prob_grad,
    ddim_step,
    ddpm_sigma,
    ddpm_step,
    eps_from_v,
    eps_from_x0,
    make_schedule,
    v_from_eps_x0,
    x0_from_eps,
    x0_from_v,
)
from diffusion_studio.core.guidance import ddim_classifier_eps, ddpm_classifier_shift, guided_eps
from diffusion_studio.core.samplers import Guidance, reverse_process


def test_conversions_round_trip() -> None:
    abar = torch.tensor(0.37)
    x0, eps = torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4)
    x_t = abar.sqrt() * x0 + (1 - abar).sqrt() * eps
    v = v_from_eps_x0(eps, x0, abar)
    torch.testing.assert_close(x0_from_eps(x_t, eps, abar), x0)
    torch.testing.assert_close(eps_from_x0(x_t, x0, abar), eps)
    torch.testing.assert_close(x0_from_v(x_t, v, abar), x0)
    torch.testing.assert_close(eps_from_v(x_t, v, abar), eps)


def test_cfg_combine() -> None:
    u, c = torch.tensor([1.0]), torch.tensor([3.0])
    assert cfg_combine(u, c, 0.0).item() == 1.0
    assert cfg_combine(u, c, 1.0).item() == 3.0
    assert cfg_combine(u, c, 3.0).item() == 7.0


class LinearModel:
    """eps = x_t + label (the null class gives eps = x_t)."""

    def predict_eps(self, x_t, t, schedule, y=None):
        if y is None:
            return x_t.clone()
        return x_t + torch.where(y == 5, 0.0, y.float()).view(-1, 1, 1, 1)


def test_guided_eps_batches_cond_and_null() -> None:
    x = torch.zeros(2, 1, 2, 2)
    eps = guided_eps(
        LinearModel(),
        x,
        torch.zeros(2, dtype=torch.long),
        make_schedule("linear", 10),
        torch.tensor([2, 2]),
        null_class=5,
        cfg_scale=3.0,
    )
    assert torch.allclose(eps, torch.full_like(x, 6.0))


class GaussianClassifier:
    """log p(y | x) = -||x - m_y||^2 / 2 + const, so grad log p(y|x) = m_y - x (softmax over two classes)."""

    means = torch.tensor([-1.0, 1.0])

    def logits(self, x_t, t):
        return torch.stack([-((x_t - m) ** 2).flatten(1).sum(1) / 2 for m in self.means], dim=1)


def test_classifier_gradient_is_grad_log_softmax() -> None:
    x = torch.zeros(1, 1, 2, 2)
    grad = classifier_log_prob_grad(
        GaussianClassifier(), x, torch.zeros(1, dtype=torch.long), torch.tensor([1])
    )
    # at x = 0 both classes equally likely: grad log p(1|x) = (m_1 - x) - E_p[m - x] = 1 - 0
    torch.testing.assert_close(grad, torch.ones_like(x))


def test_algorithm_1_shifts_the_ddpm_mean_by_s_sigma2_grad() -> None:
    sched = make_schedule("linear", 1000)
    x, eps, z = torch.randn(1, 1, 2, 2), torch.randn(1, 1, 2, 2), torch.randn(1, 1, 2, 2)
    grad = torch.ones_like(x)
    t, s = 500, 2.0
    sigma = ddpm_sigma(sched, t, "beta_tilde")
    plain, _ = ddpm_step(sched, x, t, eps, z)
    guided, _ = ddpm_step(sched, x, t, eps, z, mean_shift=ddpm_classifier_shift(grad, sigma, s))
    torch.testing.assert_close(guided - plain, s * sigma**2 * grad)


def test_algorithm_2_moves_eps_against_the_gradient() -> None:
    sched = make_schedule("linear", 1000)
    t, s = 300, 1.5
    eps, grad = torch.zeros(1, 1, 2, 2), torch.ones(1, 1, 2, 2)
    eps_hat = ddim_classifier_eps(eps, float(sched.alpha_bars[t]), grad, s)
    torch.testing.assert_close(eps_hat, -((1 - sched.alpha_bars[t]) ** 0.5) * s * grad.float())


@pytest.mark.parametrize("method", ["ddpm", "ddim"])
def test_classifier_guidance_pulls_samples_toward_the_class(method: str) -> None:
    sched = make_schedule("linear", 100)

    class ZeroModel:
        def predict_eps(self, x_t, t, schedule, y=None):
            return torch.zeros_like(x_t)

    means = []
    for label in (0, 1):
        g = torch.Generator().manual_seed(0)
        guidance = Guidance(label=label, null_class=2, classifier=GaussianClassifier(), classifier_scale=5.0)
        steps = list(
            reverse_process(
                ZeroModel(),
                sched,
                torch.zeros(64, 1, 2, 2),
                list(range(99, -1, -1)),
                method=method,
                guidance=guidance,
                generator=g,
            )
        )
        means.append(steps[-1].x_prev.mean().item())
    assert means[0] < -0.1 and means[1] > 0.1


def test_ddim_eta_zero_is_deterministic_without_noise() -> None:
    sched = make_schedule("cosine", 100)
    x, eps = torch.randn(1, 3, 4, 4), torch.randn(1, 3, 4, 4)
    a, _ = ddim_step(sched, x, 50, 40, eps)
    b, _ = ddim_step(sched, x, 50, 40, eps, noise=torch.randn(1, 3, 4, 4))
    assert torch.equal(a, b)
