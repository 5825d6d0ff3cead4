"""The worker survives thousands of start/stop cycles (it used to segfault within ~40-1,100 of them).

Each stress run happens in a child process: a crash there is a failed test here, not a dead pytest.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("stress_worker_script.py")


def _run(kind: str, count: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run(
        [sys.executable, str(SCRIPT), kind, str(count)], capture_output=True, text=True, timeout=600, env=env
    )


@pytest.mark.slow
def test_thousands_of_start_stop_cycles_do_not_crash():
    done = _run("jobs", 10000)
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-2000:]}"
    assert "ok jobs 10000 left=0" in done.stdout


@pytest.mark.slow
def test_chain_view_toggles_with_resampling_do_not_crash():
    done = _run("chain", 1500)
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-2000:]}"
    assert "ok chain 1500 left=0" in done.stdout
