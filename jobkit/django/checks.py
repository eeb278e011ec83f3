"""The system check: ``manage.py check`` reports bad ``settings.JOBKIT`` values."""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """jobkit.E001 for settings jobkit refuses, jobkit.E002 for a bad outbox database."""
    from django.core.checks import Error

    from . import conf

    errors = []
    try:
        conf.jobkit_settings()
    except ConfigError as e:
        errors.append(Error(str(e), hint="fix settings.JOBKIT; keys: "
                            + ", ".join(conf.known_keys()), id="jobkit.E001"))
    try:
        alias = conf.outbox_alias()
        if alias is not None:
            conf.database_url(alias)
    except ConfigError as e:
        errors.append(Error(str(e), id="jobkit.E002"))
    return errors
