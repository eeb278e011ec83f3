"""``manage.py jobkit_worker``: ``jobkit worker`` with Django set up first.

Takes the same options and imports each installed app's ``jobs`` module. With
``settings.JOBKIT["OUTBOX_DATABASE"]`` and no
``--outbox-url`` it also relays that database's outbox.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ....errors import ConfigError


class Command(BaseCommand):  # type: ignore[misc]
    help = "Run a jobkit worker (options as `jobkit worker --help`)"

    def run_from_argv(self, argv: list[str]) -> None:
        # jobkit's own parser reads the options, so they stay the same as `jobkit worker`'s.
        from django.utils.module_loading import autodiscover_modules

        from jobkit import cli

        from ... import conf

        # Jobs defined in <app>/jobs.py register without a -r per app.
        autodiscover_modules("jobs")
        args = list(argv[2:])
        try:
            alias = conf.outbox_alias()
        except ConfigError as e:
            raise CommandError(str(e)) from e
        if alias is not None and not any(a.startswith("--outbox-url") for a in args):
            args += ["--outbox-url", conf.database_url(alias)]
        sys.exit(cli.main(["worker", *args]))

    def handle(self, *args: Any, **options: Any) -> None:
        raise CommandError("run `manage.py jobkit_worker` from the command line")
