"""``settings.JOBKIT``: jobkit's settings, read and checked the Django way."""

from __future__ import annotations

from dataclasses import fields
from typing import Any
from urllib.parse import quote

from ..errors import ConfigError
from ..settings import Settings

#: JOBKIT keys that are not jobkit Settings fields.
OUTBOX_KEY = "OUTBOX_DATABASE"
#: Settings that hold Python objects rather than values from a settings file.
_CALLABLE = {"death_handlers", "client_middleware", "server_middleware", "clock"}


def known_keys() -> list[str]:
    """Every key ``settings.JOBKIT`` may hold."""
    return sorted([f.name.upper() for f in fields(Settings)] + [OUTBOX_KEY])


def raw_settings() -> dict[str, Any]:
    """``settings.JOBKIT`` (an empty dict when absent); a ConfigError if not a dict."""
    from django.conf import settings

    value = getattr(settings, "JOBKIT", {})
    if not isinstance(value, dict):
        raise ConfigError(f"settings.JOBKIT={value!r} must be a dict, e.g. "
                          "{'REDIS_URL': 'redis://localhost:6379/0'}")
    return value


def jobkit_settings() -> Settings:
    """jobkit's Settings from the environment with ``settings.JOBKIT`` on top."""
    values = raw_settings()
    known = {f.name for f in fields(Settings)}
    changes: dict[str, Any] = {}
    for key, value in values.items():
        name = str(key).lower()
        if key == OUTBOX_KEY:
            continue
        if not isinstance(key, str) or key != key.upper() or name not in known:
            raise ConfigError(f"settings.JOBKIT: unknown key {key!r}; known keys: "
                              f"{', '.join(known_keys())}")
        changes[name] = value
    return Settings.from_env(**changes)


def outbox_alias() -> str | None:
    """The Django database whose outbox ``jobkit_worker`` relays (None: no relay)."""
    from django.db import connections

    alias = raw_settings().get(OUTBOX_KEY)
    if alias is None:
        return None
    if not isinstance(alias, str) or alias not in connections.settings:
        raise ConfigError(f"settings.JOBKIT['{OUTBOX_KEY}']={alias!r} must name a database "
                          f"in settings.DATABASES ({', '.join(sorted(connections.settings))})")
    return alias


def database_url(alias: str) -> str:
    """A URL for the relay from Django's ``DATABASES[alias]``."""
    from django.db import connections

    db = connections.settings[alias]
    engine = str(db.get("ENGINE", ""))
    if engine.endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    scheme = {"postgresql": "postgresql", "mysql": "mysql"}.get(engine.rsplit(".", 1)[-1])
    if scheme is None:
        raise ConfigError(f"DATABASES[{alias!r}]: ENGINE {engine!r} has no jobkit outbox; "
                          "use PostgreSQL, MySQL/MariaDB or SQLite")
    user = quote(str(db.get("USER") or ""), safe="")
    password = quote(str(db.get("PASSWORD") or ""), safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = db.get("HOST") or "localhost"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"{scheme}://{auth}{host}{port}/{db['NAME']}"
