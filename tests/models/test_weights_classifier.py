"""The noise-aware classifier: differentiable in x_t, saved beside the model, None when absent."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from diffusion_studio.core.guidance import classifier_log_prob_grad
from diffusion_studio.core.schedules import make_schedule
from diffusion_studio.errors import ModelError
from diffusion_studio.models.classifier import (
    ClassifierConfig,
    NoisyClassifier,
    classifier_meta,
    load_classifier,
    save_classifier,
)

CONFIG = ClassifierConfig(in_channels=3, num_classes=3, base_channels=8, channel_mults=(1, 2))
SCHEDULE = make_schedule("linear", 50)


def _classifier() -> NoisyClassifier:
    torch.manual_seed(0)
    return NoisyClassifier(CONFIG, ("x", "y", "z"), SCHEDULE.spec())


def test_logits_shape_and_gradient_wrt_x_is_non_zero() -> None:
    clf = _classifier()
    x = torch.randn(2, 3, 32, 32, requires_grad=True)
    logits = clf.logits(x, torch.tensor([5, 40]))
    assert logits.shape == (2, 3)
    (grad,) = torch.autograd.grad(logits[:, 1].sum(), x)
    assert grad.abs().sum() > 0
    guided = classifier_log_prob_grad(clf, x.detach(), torch.tensor([5, 40]), torch.tensor([0, 2]))
    assert guided.shape == x.shape and guided.abs().sum() > 0


def test_round_trip_beside_the_model(tmp_path: Path) -> None:
    assert load_classifier(tmp_path) is None
    clf = _classifier()
    save_classifier(tmp_path, clf, classifier_meta(clf, image_size=32, training={"steps": 3}))
    loaded = load_classifier(tmp_path)
    assert loaded is not None and loaded.class_names == ("x", "y", "z") and loaded.schedule == SCHEDULE.spec()
    x, t = torch.randn(1, 3, 32, 32), torch.tensor([10])
    with torch.no_grad():
        assert torch.equal(loaded.logits(x, t), clf.eval().logits(x, t))


def test_half_a_classifier_is_an_error(tmp_path: Path) -> None:
    clf = _classifier()
    save_classifier(tmp_path, clf, classifier_meta(clf, image_size=32))
    (tmp_path / "classifier.safetensors").unlink()
    with pytest.raises(ModelError, match="missing"):
        load_classifier(tmp_path)


def test_missing_model_folder(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        load_classifier(tmp_path / "nope")
