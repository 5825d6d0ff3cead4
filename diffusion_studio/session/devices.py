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
    device = torch.device(name)
    if device.type == "cuda":
        exact_float32_on_cuda()
    return device


def exact_float32_on_cuda() -> None:
    """Sample in true float32 on CUDA: no TF32 convolutions or matrix products.

    PyTorch lets cuDNN round convolution inputs to TF32 (10-bit mantissa) by default. Measured on an H200
    (benchmarks/gpu_check.py), that alone moved a 20-step run on a diffusers U-Net 2.7e-3..6e-3 relative from the
    same run in float32, and a 50-step digits run 2e-3..7e-3 from the CPU's; the studio's runs are meant to agree
    with the CPU and with diffusers to 1e-5. These models are small, so the speed TF32 buys does not matter here.
    Training sets its own precision (bf16 autocast) and does not come through here.
    """
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False


def describe_device(device: torch.device) -> str:
    """A short name for the status line: "CPU", or "CUDA (the GPU's name)"."""
    if device.type == "cuda":
        try:
            return f"CUDA ({torch.cuda.get_device_name(device)})"
        except (RuntimeError, AssertionError):
            return "CUDA"
    return device.type.upper()
