"""A cancel token shared between a sampler and whoever wants to stop it (a thread-safe flag)."""

from __future__ import annotations

import threading


class CancelToken:
    """Set from any thread; samplers check it before each model call and stop within one step."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()
