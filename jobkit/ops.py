"""Operations commands of the ``jobkit`` CLI (stats, queues, retries, dead, ...)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any


def add_commands(sub: Any, add_redis_options: Callable[[argparse.ArgumentParser], None]) -> None:
    """Register the operations subcommands on the ``jobkit`` parser."""
