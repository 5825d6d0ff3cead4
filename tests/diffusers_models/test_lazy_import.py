"""diffusers is imported only when a diffusers folder is opened, and then with the Hugging Face hub offline."""

from __future__ import annotations

import subprocess
import sys

import diffusers
from diffusers_helpers import make_unet, save_flat

SCRIPT = """
import os, sys
os.environ.pop("HF_HUB_OFFLINE", None)
from diffusion_studio.cli import main
assert main(["sample", "--model", "ideal", "--size", "8", "--T", "20", "--steps", "3", "--quiet"]) == 0
assert main(["models"]) == 0
print("before:", "diffusers" in sys.modules, "huggingface_hub" in sys.modules)
from diffusion_studio.models.registry import load_model
load_model(sys.argv[1])
print("after:", "diffusers" in sys.modules, os.environ.get("HF_HUB_OFFLINE"))
"""


def test_diffusers_is_imported_lazily_and_offline(tmp_path) -> None:
    folder = save_flat(tmp_path / "m", make_unet(seed=60), diffusers.DDPMScheduler())
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(folder)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "before: False False" in done.stdout
    assert "after: True 1" in done.stdout
