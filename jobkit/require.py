"""Importing the application's modules named by ``-r`` (module names or paths), for the
worker, the relay and the other commands, with what each registered."""

from __future__ import annotations

import importlib
import logging
import os
import sys
from collections.abc import Sequence

from .errors import ConfigError
from .registry import registered


def module_for_path(path: str) -> tuple[str, str]:
    """The package-qualified module name of a ``.py`` file or package directory, and the
    directory to put on ``sys.path`` for it: ``shop/jobs.py`` inside package ``shop`` (it has
    an ``__init__.py``) is ``shop.jobs``, so its jobs register under the names the app uses."""
    directory, name = os.path.split(path.removesuffix(".py").rstrip(os.sep))
    parts = [name]
    while os.path.isfile(os.path.join(directory, "__init__.py")):
        directory, package = os.path.split(directory)
        parts.insert(0, package)
    return ".".join(parts), directory


def require(spec: str) -> list[str]:
    """Import ``spec``: a module name (``myapp.jobs``) or a path to a ``.py`` file or package;
    returns the job names that importing it registered."""
    path = os.path.abspath(spec)
    if spec.endswith(".py") or os.path.isdir(path):
        if not os.path.exists(path):
            raise ConfigError(f"-r {spec!r}: no such file or directory")
        module, directory = module_for_path(path)
        if directory not in sys.path:
            sys.path.insert(0, directory)
    else:
        module = spec
    before = set(registered())
    try:
        importlib.import_module(module)
    except ImportError as e:
        raise ConfigError(f"-r {spec!r}: cannot import {module!r}: {e}") from e
    return sorted(set(registered()) - before)


def require_all(specs: Sequence[str]) -> None:
    """Import every ``-r`` module; log the jobs they registered and warn about any that
    registered none (a typo, or jobs defined elsewhere, would otherwise only show as jobs
    dying "not registered")."""
    log = logging.getLogger("jobkit")
    for spec in specs:
        names = require(spec)
        if names:
            log.info("-r %s registered %d job(s): %s", spec, len(names), ", ".join(names))
        else:
            log.warning("-r %s registered no jobs: payloads naming its jobs would go to the "
                        "dead set as not registered", spec)
