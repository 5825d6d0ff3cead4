"""Noise predictors: the interface, closed-form denoisers, the U-Net, weights I/O and the registry."""

from diffusion_studio.models.base import ModelInfo, NoisePredictor
from diffusion_studio.models.registry import builtin_names, describe_models, load_classifier, load_model

__all__ = ["ModelInfo", "NoisePredictor", "builtin_names", "describe_models", "load_classifier", "load_model"]
