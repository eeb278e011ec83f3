"""The worker's threads: named daemon threads that leave process signals to the main thread."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable

#: Signals the CLI handles on the main thread (stop, stop, quiet).
_HANDLED = {s for s in (getattr(signal, n, None) for n in ("SIGTERM", "SIGINT", "SIGTSTP"))
            if s is not None}


def thread(target: Callable[[], object], name: str) -> threading.Thread:
    """A daemon thread ``jobkit-NAME`` running ``target`` with the handled signals blocked.

    A process signal is delivered to any thread that does not block it; one arriving in a
    thread waiting on a lock with a timeout (``SimpleQueue.get``) could leave that wait stuck
    (seen at shutdown), and Python runs the handler on the main thread anyway."""

    def run() -> None:
        if _HANDLED and hasattr(signal, "pthread_sigmask"):
            signal.pthread_sigmask(signal.SIG_BLOCK, _HANDLED)
        target()

    return threading.Thread(target=run, name=f"jobkit-{name}", daemon=True)
