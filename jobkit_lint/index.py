"""The project-wide index: every job definition and model class in the linted tree.

Built from all module summaries before any rule runs, so `charge.send(sub)` in one module is
known to enqueue the Dramatiq actor defined in another.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

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
_JOB_BASES = {
    "jobkit.Job": "jobkit", "jobkit.job.Job": "jobkit", "dramatiq.GenericActor": "dramatiq",
    "celery.Task": "celery", "celery.app.task.Task": "celery", "celery.task.Task": "celery",
}
# Frameworks whose payloads are pickled unless the project configures JSON.
_PICKLE_BY_DEFAULT = frozenset({"rq", "huey", "arq"})


def base_framework(qualified: str) -> str | None:
    """The framework of a library job base class (`celery.Task`, `app.Task` of a Celery app)."""
    if qualified in _JOB_BASES:
        return _JOB_BASES[qualified]
    parts = qualified.split(".")
    if parts[-1] == "Task" and len(parts) > 1 and (
        parts[0] == "celery" or parts[-2] in {"app", "celery_app", "celery"}
    ):
        return "celery"
    return None


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
        self._memo: dict[str, str] = {}
        self.model_modules = config.model_modules
        self.jobs: dict[str, str] = {}
        self.job_classes: set[str] = set()
        self.models: set[str] = set()
        self.read_only_databases = config.read_only_databases
        self.transaction_managers = config.transaction_managers
        serializers: set[str] = set()
        job_decorators: dict[str, str] = {}
        decorated: dict[str, list[str]] = {}
        self.classes: set[str] = set()
        self.functions: set[str] = set()
        self.signatures: dict[str, dict[str, Any]] = {}
        model_bases = set(MODEL_BASES) | set(config.model_base_classes)
        bases_of: dict[str, list[str]] = {}
        for summary in summaries:
            prefix = summary.module + "." if summary.module else ""
            for name, framework in summary.jobs.items():
                self.jobs[prefix + name] = framework
            for name, framework in summary.job_decorators.items():
                job_decorators[prefix + name] = framework
            for name, names in summary.decorated.items():
                decorated[prefix + name] = names
            serializers.update(summary.serializers)
            for qualified, framework in summary.registered.items():
                self.jobs.setdefault(qualified, framework)
            for name in summary.functions:
                self.functions.add(prefix + name)
            for name, signature in summary.signatures.items():
                self.signatures[prefix + name] = signature
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
        # `@retrying_task` where `retrying_task = shared_task(...)` lives in another module.
        for function, names in decorated.items():
            aliased = next(
                (job_decorators[c] for n in names if (c := self.canonical(n)) in job_decorators),
                None,
            )
            if aliased:
                self.jobs.setdefault(function, aliased)
        self.pickled = self._pickled(serializers)
        self._bases = bases_of
        self._known = self.classes | self.functions | set(self.jobs)
        for suffix in [s for q in self.jobs for s in _suffixes(q)]:
            self._aliases.setdefault(suffix, suffix)
        payload = json.dumps([sorted(self.jobs.items()), sorted(self.models),
                              sorted(self.classes), sorted(self.functions),
                              sorted(self.pickled), sorted(self.signatures.items())])
        self.digest = hashlib.blake2b(payload.encode(), digest_size=12).hexdigest()
        # Names canonicalised while the index was still growing may resolve differently now.
        self._memo = {}
        self.frameworks = frozenset(self.jobs.values())

    def __getstate__(self) -> dict[str, Any]:
        # The memo is this process's own: workers fill theirs.
        return {**self.__dict__, "_memo": {}}

    def _close_over_bases(self, bases_of: dict[str, list[str]], model_bases: set[str]) -> None:
        # Inheritance chains cross modules (BaseJob in one file, jobs in many), so iterate to
        # a fixed point instead of assuming definition order.
        changed = True
        while changed:
            changed = False
            for cls, bases in bases_of.items():
                resolved = [self.canonical(b) for b in bases]
                framework = next((f for b in resolved if (f := self.class_job_framework(b))), None)
                if cls not in self.job_classes and framework:
                    self.job_classes.add(cls)
                    self.jobs.setdefault(cls, framework)
                    changed = True
                if cls not in self.models and any(
                    b in model_bases or b in self.models for b in resolved
                ):
                    self.models.add(cls)
                    changed = True

    def canonical(self, qualified: str) -> str:
        """The indexed name `qualified` refers to, tolerating unknown source roots (src/…)."""
        # Every call of every linted module asks, mostly about names that are no job: the
        # suffix search below is worth doing once per name.
        found = self._memo.get(qualified)
        if found is None:
            found = self._memo[qualified] = self._canonical(qualified)
        return found

    def _canonical(self, qualified: str) -> str:
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
        library = base_framework(canonical)
        if library:
            return library
        return self.jobs.get(canonical) if canonical in self.job_classes else None

    @staticmethod
    def _pickled(serializers: set[str]) -> frozenset[str]:
        pickled = {f for f in _PICKLE_BY_DEFAULT if f"{f}=json" not in serializers}
        if any(s.startswith("celery=") and "pickle" in s for s in serializers):
            pickled.add("celery")
        return frozenset(pickled)

    def payload(self, framework: str) -> str:
        """How `framework` encodes job arguments here: `pickle` (RQ, huey and arq by default;
        Celery when `task_serializer`/`CELERY_TASK_SERIALIZER` names a pickle), `kombu`
        (Celery's JSON) or `json`."""
        if framework in self.pickled:
            return "pickle"
        return "kombu" if framework == "celery" else "json"

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

    def signature(self, qualified: str | None) -> dict[str, Any] | None:
        """The parameters of a job's body (`perform`, inherited too, or the task function)."""
        if qualified is None:
            return None
        seen: set[str] = set()
        pending = [self.canonical(qualified)]
        while pending:
            name = pending.pop(0)
            if name in seen:
                continue
            seen.add(name)
            if name in self.signatures:
                return self.signatures[name]
            pending.extend(self.canonical(b) for b in self._bases.get(name, []))
        return None

    def job_names(self) -> set[str]:
        """Simple names of every job, for the text pre-filter of modules that only enqueue."""
        return {q.rsplit(".", 1)[-1] for q in self.jobs}
