"""A model.json with absurd sizes is refused with one sentence before any memory is spent on its network."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from diffusion_studio.errors import ModelError
from diffusion_studio.models.trained import load_trained
from diffusion_studio.paths import builtin_models_dir


@pytest.fixture
def digits_copy(tmp_path: Path) -> Path:
    src = builtin_models_dir() / "digits"
    if not (src / "model.json").is_file():
        pytest.skip("the built-in digits model is not in this checkout")
    return Path(shutil.copytree(src, tmp_path / "digits"))


def _edit(folder: Path, key: str, value) -> None:
    meta = json.loads((folder / "model.json").read_text())
    target = meta
    *parents, last = key.split(".")
    for part in parents:
        target = target[part]
    target[last] = value
    (folder / "model.json").write_text(json.dumps(meta))


@pytest.mark.parametrize(
    "key,value,needle",
    [
        ("config.base_channels", 100_000, '"base_channels" 100,000'),
        ("config.num_res_blocks", 100_000, '"num_res_blocks" 100,000'),
        ("config.channel_mults", [100_000], '"channel_mults"'),
        ("config.channel_mults", [1] * 50, '"channel_mults"'),
        ("image_size", 0, '"image_size" 0'),
        ("image_size", 100_000, '"image_size" 100000'),
        ("image_size", -28, '"image_size" -28'),
        ("config.base_channels", 64, "do not fit"),
        ("config.num_res_blocks", 3, "do not fit"),
    ],
)
def test_absurd_or_mismatched_sizes_are_one_sentence(digits_copy: Path, key: str, value, needle: str) -> None:
    _edit(digits_copy, key, value)
    start = time.perf_counter()
    with pytest.raises(ModelError) as info:
        load_trained(digits_copy)
    assert needle in str(info.value) and "model.json" in str(info.value) and "\n" not in str(info.value)
    assert time.perf_counter() - start < 10, "refused before building a huge network"
