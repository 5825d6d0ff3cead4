"""The thread policy: idle cores (less a reserve), at least one; --threads and DIFFUSION_STUDIO_THREADS win."""

from __future__ import annotations

import pytest

import diffusion_studio.threads as threads
from diffusion_studio.errors import OptionError


@pytest.fixture
def machine(monkeypatch):
    """A 4-core machine whose load the test sets."""
    monkeypatch.delenv(threads.ENV_VAR, raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.setattr(threads, "usable_cores", lambda: 4)
    monkeypatch.setattr(threads, "_busy", None)

    def load(busy: float) -> None:
        monkeypatch.setattr(threads, "busy_cores", lambda sample_s=0.05: busy)
        monkeypatch.setattr(threads, "_busy", None)

    return load


@pytest.mark.parametrize(
    "busy,reserve,expected", [(0, 0, 4), (0, 1, 3), (2, 0, 2), (2.4, 0, 2), (3.6, 0, 1), (8, 1, 1)]
)
def test_threads_follow_the_idle_cores(machine, busy: float, reserve: int, expected: int) -> None:
    machine(busy)
    assert threads.choose_threads(reserve=reserve) == expected


def test_a_busy_machine_gets_the_passive_wait_policy_and_an_idle_one_keeps_the_default(machine, monkeypatch) -> None:
    import os

    machine(0.1)
    threads.prepare_environment()
    assert "OMP_WAIT_POLICY" not in os.environ
    machine(2.0)
    threads.prepare_environment()
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")  # the user's choice stays
    threads.prepare_environment()
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"


def test_the_option_and_the_environment_variable_override(machine, monkeypatch) -> None:
    machine(4)
    monkeypatch.setenv(threads.ENV_VAR, "3")
    assert threads.choose_threads() == 3
    assert threads.choose_threads(option=2) == 2  # --threads beats the variable
    for bad in ("0", "-2", "many", "1.5", "99999"):
        monkeypatch.setenv(threads.ENV_VAR, bad)
        with pytest.raises(OptionError, match=threads.ENV_VAR):
            threads.choose_threads()


def test_omp_num_threads_as_torchrun_sets_it_is_kept(machine, monkeypatch) -> None:
    machine(0)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert threads.choose_threads() == 1
    monkeypatch.setenv(threads.ENV_VAR, "3")  # the studio's own variable wins
    assert threads.choose_threads() == 3


def test_configure_sets_torch(machine, monkeypatch) -> None:
    import torch

    before = torch.get_num_threads()
    try:
        assert threads.configure_threads(option=1) == 1 and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_busy_cores_reads_proc_stat_where_there_is_one() -> None:
    busy = threads.busy_cores(0.01)
    assert 0.0 <= busy <= (threads.os.cpu_count() or 1) + 0.01
