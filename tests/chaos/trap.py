"""A module no worker may ever import: importing it creates the file named by
``JOBKIT_CHAOS_MARKER``. Garbage payloads name it (``tests.chaos.trap.Boom``) to prove that a
payload's class is looked up in the registry and never imported."""

from __future__ import annotations

import os

_marker = os.environ.get("JOBKIT_CHAOS_MARKER")
if _marker:
    with open(_marker, "a") as f:
        f.write(f"tests.chaos.trap imported by pid {os.getpid()}\n")


class Boom:
    """Would run a command if anything called it."""

    def __init__(self, *args: object) -> None:
        if _marker:
            with open(_marker, "a") as f:
                f.write(f"Boom{args!r} called\n")
