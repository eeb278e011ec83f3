"""The project-wide index: every job definition and model class in the linted tree.

Built from all module summaries before any rule runs, so `charge.send(sub)` in one module is
known to enqueue the Dramatiq actor defined in another.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

from jobkit_lint.config import Config
from jobkit_lint.summary import ModuleSummary

__all__ = ["MODEL_BASES", "ProjectIndex"]

MODEL_BASES = frozenset({
    "django.db.models.Model",
    "django.db.models.base.Model",
    "peewee.Model",
    "sqlalchemy.orm.DeclarativeBase",
    "sqlalchemy.orm.DeclarativeBaseNoMeta",
})
_DECLARATIVE_FACTORIES = frozenset({
    "sqlalchemy.orm.declarative_base",
    "sqlalchemy.ext.declarative.declarative_base",
})
_FLASK_SQLALCHEMY = frozenset({"flask_sqlalchemy.SQLAlchemy"})
# Library modules whose own classes are not application models even under a `models` package.
_LIBRARY_PREFIXES = ("django.", "sqlalchemy.", "peewee.", "flask_sqlalchemy.", "pydantic.")
_JOB_BASES = frozenset({"jobkit.Job", "jobkit.job.Job", "dramatiq.GenericActor"})


def _suffixes(qualified: str) -> Iterable[str]:
    parts = qualified.split(".")
    for i in range(1, len(parts) - 1):
        yield ".".join(parts[i:])


def _contains_run(segments: list[str], run: list[str]) -> bool:
    width = len(run)
    return any(segments[i : i + width] == run for i in range(len(segments) - width + 1))


class ProjectIndex:
    """Job definitions (qualified name → framework), model classes, classes and functions."""

    def __init__(self, summaries: Iterable[ModuleSummary], config: Config | None = None) -> None:
        config = config or Config()
        self.model_modules = config.model_modules
        self.jobs: dict[str, str] = {}
        self.job_classes: set[str] = set()
        self.models: set[str] = set()
        self.classes: set[str] = set()
        self.functions: set[str] = set()
        model_bases = set(MODEL_BASES) | set(config.model_base_classes)
        bases_of: dict[str, list[str]] = {}
        for summary in summaries:
            prefix = summary.module + "." if summary.module else ""
            for name, framework in summary.jobs.items():
                self.jobs[prefix + name] = framework
            for name in summary.functions:
                self.functions.add(prefix + name)
            for name, bases in summary.classes.items():
                self.classes.add(prefix + name)
                bases_of[prefix + name] = bases
            for name, callee in summary.assigns.items():
                if callee in _DECLARATIVE_FACTORIES:
                    model_bases.add(prefix + name)
                elif callee in _FLASK_SQLALCHEMY:
                    model_bases.add(f"{prefix}{name}.Model")
        self._aliases: dict[str, str] = {}
        for qualified in self.classes | self.functions:
            for suffix in _suffixes(qualified):
                self._aliases.setdefault(suffix, qualified)
        self._known: set[str] = self.classes | self.functions | set(self.jobs)
        self._close_over_bases(bases_of, model_bases)
        self._known = self.classes | self.functions | set(self.jobs)
        for suffix in [s for q in self.jobs for s in _suffixes(q)]:
            self._aliases.setdefault(suffix, suffix)
        payload = json.dumps([sorted(self.jobs.items()), sorted(self.models),
                              sorted(self.classes), sorted(self.functions)])
        self.digest = hashlib.blake2b(payload.encode(), digest_size=12).hexdigest()

    def _close_over_bases(self, bases_of: dict[str, list[str]], model_bases: set[str]) -> None:
        # Inheritance chains cross modules (BaseJob in one file, jobs in many), so iterate to
        # a fixed point instead of assuming definition order.
        changed = True
        while changed:
            changed = False
            for cls, bases in bases_of.items():
                resolved = [self.canonical(b) for b in bases]
                if cls not in self.job_classes and any(
                    b in _JOB_BASES or b in self.job_classes for b in resolved
                ):
                    self.job_classes.add(cls)
                    framework = "dramatiq" if "dramatiq.GenericActor" in resolved else "jobkit"
                    self.jobs.setdefault(cls, framework)
                    changed = True
                if cls not in self.models and any(
                    b in model_bases or b in self.models for b in resolved
                ):
                    self.models.add(cls)
                    changed = True

    def canonical(self, qualified: str) -> str:
        """The indexed name `qualified` refers to, tolerating unknown source roots (src/…)."""
        known = self._known
        if qualified in known:
            return qualified
        if qualified in self._aliases:
            return self._aliases[qualified]
        # The importer may see a deeper package path than the indexed module has (the tree
        # was linted from inside a package, or a directory lacks __init__.py).
        parts = qualified.split(".")
        for start in range(1, len(parts) - 1):
            shorter = ".".join(parts[start:])
            if shorter in known:
                return shorter
        return qualified

    def job_framework(self, qualified: str | None) -> str | None:
        """The framework of the job `qualified` names, or None when it is not a known job."""
        if qualified is None:
            return None
        return self.jobs.get(self.canonical(qualified))

    def class_job_framework(self, base: str) -> str | None:
        """The framework a class inheriting from `base` belongs to, if `base` is a job class."""
        canonical = self.canonical(base)
        if canonical in _JOB_BASES:
            return "dramatiq" if canonical == "dramatiq.GenericActor" else "jobkit"
        return self.jobs.get(canonical) if canonical in self.job_classes else None

    def is_model_class(self, qualified: str | None) -> bool:
        """True for indexed model classes and classes from a configured model module."""
        if qualified is None:
            return False
        canonical = self.canonical(qualified)
        if canonical in self.models:
            return True
        module, _, name = canonical.rpartition(".")
        if not module or not name[:1].isupper() or canonical.startswith(_LIBRARY_PREFIXES):
            return False
        segments = module.split(".")
        return any(_contains_run(segments, m.split(".")) for m in self.model_modules)

    def is_class(self, qualified: str | None) -> bool:
        """True when `qualified` names a class defined in the linted tree."""
        return qualified is not None and self.canonical(qualified) in self.classes

    def is_function(self, qualified: str | None) -> bool:
        """True when `qualified` names a top-level function defined in the linted tree."""
        return qualified is not None and self.canonical(qualified) in self.functions

    def job_names(self) -> set[str]:
        """Simple names of every job, for the text pre-filter of modules that only enqueue."""
        return {q.rsplit(".", 1)[-1] for q in self.jobs}
