"""The process-wide settings and client that ``Job.perform_async`` and friends use."""

from __future__ import annotations

import threading
from typing import Any

from .client import Client
from .settings import Settings

_lock = threading.Lock()
_settings: Settings | None = None
_client: Client | None = None


def configure(settings: Settings | None = None, /, **changes: Any) -> Settings:
    """Set jobkit's settings: ``configure(redis_url=..., death_handlers=[...])``.

    Keywords change the current settings (read from the environment the first time); a
    :class:`Settings` object replaces them whole. Returns the settings now in force.
    """
    global _settings, _client
    with _lock:
        base = settings if settings is not None else (_settings or Settings.from_env())
        new = base.replace(**changes) if changes else base
        _settings, _client = new, None
        return new


def configure_for_command(*, redis_url: str | None = None,
                          namespace: str | None = None) -> Settings:
    """Apply a command's ``--redis-url``/``--namespace`` (None: not given) over the current
    settings and return the settings now in force."""
    changes: dict[str, Any] = {}
    if namespace is not None:
        changes["namespace"] = namespace
    if redis_url:
        changes["redis_url"] = redis_url
    return configure(**changes)


def use_client(client: Client) -> Settings:
    """Make ``client`` (and its settings) the process-wide ones: for harnesses that already
    hold a connection, such as the pytest plugin. Returns its settings."""
    global _settings, _client
    with _lock:
        _settings, _client = client.settings, client
        return client.settings


def get_settings() -> Settings:
    """The settings in force (from the environment if :func:`configure` was never called)."""
    global _settings
    with _lock:
        if _settings is None:
            _settings = Settings.from_env()
        return _settings


def get_client() -> Client:
    """The shared client for the current settings, created on first use."""
    global _client
    client = _client
    # Fast path without the lock: enqueueing is hot, and the pair is swapped atomically.
    if client is not None and client.settings is _settings:
        return client
    settings = get_settings()
    with _lock:
        if _client is None or _client.settings is not settings:
            _client = Client(settings)
        return _client
