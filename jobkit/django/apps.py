"""The Django app: configures jobkit from ``settings.JOBKIT`` when Django starts."""

from __future__ import annotations

import logging

from django.apps import AppConfig

from ..errors import ConfigError

log = logging.getLogger("jobkit.django")


class JobkitConfig(AppConfig):  # type: ignore[misc]
    """``INSTALLED_APPS = [..., "jobkit.django"]``."""

    name = "jobkit.django"
    label = "jobkit"
    verbose_name = "jobkit"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core import checks

        from .. import config
        from . import conf
        from .checks import check_settings

        checks.register(check_settings, "jobkit")
        try:
            config.configure(conf.jobkit_settings())
        except ConfigError as e:
            # Reported by the system check (jobkit.E001) with a hint; starting goes on.
            log.error("settings.JOBKIT is invalid: %s", e)
