"""Every test here needs diffusers (the dev extra) and never the network."""

from __future__ import annotations

import importlib.util
import os

import pytest

if importlib.util.find_spec("diffusers") is None:  # the dev extra is missing: nothing here can run
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture(autouse=True)
def offline_cache(tmp_path_factory, monkeypatch):
    """An empty Hugging Face cache of our own, and the hub offline: nothing may reach the network."""
    cache = tmp_path_factory.mktemp("hf-cache")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert os.environ["HF_HUB_CACHE"] == str(cache)
    return cache


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny U-Nets run fastest on one thread; several threads on a busy 2-core machine cost 10x."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
