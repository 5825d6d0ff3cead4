"""How many CPU threads torch uses, chosen once per process for the CLI, ``train`` and the window.

torch's default takes every core, and its OpenMP threads spin while they wait for work. Beside other busy
programs each parallel region then waits for a thread the OS has descheduled: a small model's step was 25x
slower with two threads than with one on a two-core machine running two other busy processes. The policy:

- measure how many cores other programs keep busy now (``/proc/stat`` over 50 ms, before torch is imported);
- use as many threads as there are idle cores, at least one, at most the cores this process may run on, less
  ``reserve`` (the window keeps a core for its GUI thread);
- when the machine is busy (at least half a core in use by others), also set ``OMP_WAIT_POLICY=PASSIVE``
  before torch is imported, so that waiting threads sleep instead of spinning against the other programs;
  on an idle machine OpenMP keeps its default (brief spinning, the fastest hand-over between small ops);
- ``--threads N`` or the environment variable ``DIFFUSION_STUDIO_THREADS`` override the count, and so does
  ``OMP_NUM_THREADS`` when set (torchrun sets it to 1 per process); a user's own ``OMP_WAIT_POLICY`` is kept.
"""

from __future__ import annotations

import contextlib
import os
import time

from diffusion_studio.errors import OptionError

ENV_VAR = "DIFFUSION_STUDIO_THREADS"
MAX_THREADS = 1024
_SAMPLE_S = 0.05
BUSY_THRESHOLD = 0.5  # cores kept busy by other programs from which the machine counts as busy
_busy: float | None = None  # measured by prepare_environment, reused by choose_threads


def prepare_environment() -> None:
    """Measure the load and set the OpenMP wait policy; call before torch (and its OpenMP runtime) is loaded."""
    global _busy
    _busy = busy_cores()
    if _busy >= BUSY_THRESHOLD and "OMP_WAIT_POLICY" not in os.environ:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _cpu_times() -> tuple[int, int] | None:
    """(busy, total) jiffies of all CPUs from /proc/stat, or None where there is no /proc."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # guest time is already counted in user
    return total - idle, total


def busy_cores(sample_s: float = _SAMPLE_S) -> float:
    """How many cores other programs keep busy now (0 where it cannot be measured)."""
    first = _cpu_times()
    if first is None:
        return 0.0
    time.sleep(sample_s)
    second = _cpu_times()
    if second is None or second[1] <= first[1]:
        return 0.0
    share = (second[0] - first[0]) / (second[1] - first[1])
    return max(0.0, share * (os.cpu_count() or 1))


def requested_threads(option: int | None = None) -> int | None:
    """``--threads`` if given, else ``DIFFUSION_STUDIO_THREADS`` (checked), else a valid ``OMP_NUM_THREADS``
    (which torchrun sets to 1 for each of several processes), else None."""
    if option is not None:
        return option
    text = os.environ.get(ENV_VAR, "").strip()
    if not text:
        omp = os.environ.get("OMP_NUM_THREADS", "").strip()
        return int(omp) if omp.isdigit() and 1 <= int(omp) <= MAX_THREADS else None
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_THREADS:
        raise OptionError(f"{ENV_VAR} must be a whole number from 1 to {MAX_THREADS}, not '{text}'.")
    return value


def choose_threads(option: int | None = None, reserve: int = 0) -> int:
    """The thread count: the override, else the idle cores now (less ``reserve``), at least 1."""
    asked = requested_threads(option)
    if asked is not None:
        return asked
    cores = usable_cores()
    idle = cores - (_busy if _busy is not None else busy_cores())
    return max(1, min(cores - reserve, int(idle + 0.5)))


def configure_threads(option: int | None = None, reserve: int = 0) -> int:
    """Apply :func:`choose_threads` to torch (intra-op pool; one inter-op thread); return the count."""
    import torch

    threads = choose_threads(option, reserve)
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    with contextlib.suppress(RuntimeError):  # allowed only before the first inter-op work; nothing here uses it
        torch.set_num_interop_threads(1)
    return threads
