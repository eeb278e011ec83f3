"""Fixtures for the plugin's tests; the helpers live in ``helpers.py``."""

from __future__ import annotations

from tests.plugin.helpers import backend, inner

__all__ = ["backend", "inner"]
