"""Fixtures of the after-commit and outbox tests: real databases, a private Redis."""

from __future__ import annotations

from tests.outbox.databases import db, module_database, redis_server

__all__ = ["db", "module_database", "redis_server"]
