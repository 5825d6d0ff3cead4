"""The one place that turns a device choice ("auto", "cpu", "cuda") into a torch device, and names a device."""

from __future__ import annotations

import torch

from diffusion_studio.errors import OptionError

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def choose_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA when PyTorch can use it, else the CPU; CUDA asked for without one is an OptionError."""
    if name not in DEVICE_CHOICES:
        raise OptionError(f"Unknown device '{name}'; choose auto, cpu or cuda.")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise OptionError("CUDA was asked for, but this machine has no usable CUDA GPU; use --device cpu.")
    return torch.device(name)


def describe_device(device: torch.device) -> str:
    """A short name for the status line: "CPU", or "CUDA (the GPU's name)"."""
    if device.type == "cuda":
        try:
            return f"CUDA ({torch.cuda.get_device_name(device)})"
        except (RuntimeError, AssertionError):
            return "CUDA"
    return device.type.upper()
