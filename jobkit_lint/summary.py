"""Per-module facts for the project-wide index, read from top-level statements only."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import libcst as cst

from jobkit_lint.names import NameResolver, dotted_name, import_bindings
from jobkit_lint.signatures import perform_method, signature_of
from jobkit_lint.traversal import iter_body_nodes

__all__ = ["ModuleSummary", "decorator_framework", "summarize"]


@dataclass
class ModuleSummary:
    """What other modules may need to know about one module; JSON-serialisable for the cache."""

    module: str
    is_package: bool = False
    imports: dict[str, str] = field(default_factory=dict)
    classes: dict[str, list[str]] = field(default_factory=dict)
    functions: list[str] = field(default_factory=list)
    jobs: dict[str, str] = field(default_factory=dict)
    assigns: dict[str, str] = field(default_factory=dict)
    # Local decorator aliases and wrapper functions (`retrying_task = shared_task(...)`).
    job_decorators: dict[str, str] = field(default_factory=dict)
    # Decorators of functions that are not known jobs here; the index resolves them against
    # aliases defined in other modules.
    decorated: dict[str, list[str]] = field(default_factory=dict)
    # Project settings that change what a payload can hold: `framework=serializer` strings.
    serializers: list[str] = field(default_factory=list)
    signatures: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Coroutine jobs registered by listing them (arq's ``functions = [...]``, SAQ's
    #: ``{"functions": [...]}``): qualified name → framework; they may live in other modules.
    registered: dict[str, str] = field(default_factory=dict)
    # What each top-level import binds, by the id of its node in the tree just summarised:
    # the analysis walk of that tree replays them instead of resolving them again. Never
    # cached (ids mean nothing in another run); a summary read from the cache has none.
    bound: dict[int, tuple[tuple[str, str], ...]] = field(
        default_factory=dict, repr=False, compare=False)

    def resolver(self) -> NameResolver:
        """A name resolver seeded with this module's imports and top-level definitions."""
        local = [*self.classes, *self.functions, *self.assigns]
        return NameResolver(self.module, dict(self.imports), local, is_package=self.is_package)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the cache."""
        return {
            "module": self.module, "is_package": self.is_package, "imports": self.imports,
            "classes": self.classes, "functions": self.functions, "jobs": self.jobs,
            "assigns": self.assigns, "signatures": self.signatures,
            "job_decorators": self.job_decorators,
            "decorated": self.decorated, "serializers": self.serializers,
            "registered": self.registered,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModuleSummary:
        """Inverse of :meth:`to_dict`."""
        return cls(**data)


def _callee(node: cst.BaseExpression) -> cst.BaseExpression:
    return node.func if type(node) is cst.Call else node


# Libraries whose `task` decorator is not a job queue's (`invoke.task`, `airflow.decorators.task`).
_NOT_JOB_LIBRARIES = ("invoke.", "fabric.", "prefect.", "airflow.", "luigi.", "dagster.",
                      "doit.", "nox.", "pytest.")
_RQ_DECORATORS = frozenset({"rq.job", "rq.decorators.job", "django_rq.job",
                            "django_rq.decorators.job"})
_CELERY_SETTINGS = frozenset({"CELERY_TASK_SERIALIZER", "task_serializer"})


def decorator_framework(
    qualified: str, receiver_assign: str | None, receiver_name: str
) -> str | None:
    """The job framework a decorator's qualified name implies (`celery.shared_task` → celery)."""
    last = qualified.rsplit(".", 1)[-1]
    if qualified in {"jobkit.job", "jobkit.decorators.job"} or (
        qualified.startswith("jobkit.") and last == "job"
    ):
        return "jobkit"
    if qualified in _RQ_DECORATORS:
        return "rq"
    if qualified.startswith(("django.tasks.", "django_tasks.")) and last == "task":
        return "django"
    if last == "shared_task" and qualified.startswith("celery"):
        return "celery"
    if last == "actor" and qualified.startswith("dramatiq"):
        return "dramatiq"
    if last == "task" and (receiver_assign or "").startswith("taskiq"):
        # `broker = ListQueueBroker(...)` then `@broker.task`: taskiq, not Celery or huey.
        return "taskiq"
    if qualified.startswith(_NOT_JOB_LIBRARIES):
        return None
    if last in {"task", "periodic_task", "db_task", "db_periodic_task"} and "." in qualified:
        hueyish = (
            qualified.startswith("huey")
            or (receiver_assign or "").startswith("huey")
            or "huey" in receiver_name.lower()
        )
        return "huey" if hueyish else "celery"
    return None


def _decorator_of(
    expr: cst.BaseExpression, resolver: NameResolver, assigns: dict[str, str]
) -> str | None:
    """The framework of a decorator expression (`@app.task(bind=True)`, `@shared_task`)."""
    decorated = _callee(expr)
    qualified = resolver.qualify(decorated)
    if qualified is None:
        return None
    receiver = decorated.value if type(decorated) is cst.Attribute else None
    receiver_name = dotted_name(receiver) if receiver is not None else None
    return decorator_framework(
        qualified, assigns.get(receiver_name or ""), receiver_name or ""
    )


def _wrapper_framework(
    node: cst.FunctionDef, resolver: NameResolver, assigns: dict[str, str]
) -> str | None:
    # A decorator factory such as huey's documented retry wrapper:
    # `def task(...): def deco(fn): ... return huey.task(retries=...)(inner)`. Only the
    # statements of the function and its nested defs are read: this runs for every function.
    bodies: list[cst.BaseSuite] = [node.body]
    while bodies:
        suite = bodies.pop()
        if type(suite) is not cst.IndentedBlock:
            continue
        for stmt in suite.body:
            if type(stmt) is cst.FunctionDef:
                bodies.append(stmt.body)
            elif type(stmt) is cst.SimpleStatementLine:
                for small in stmt.body:
                    if type(small) is cst.Return and type(small.value) is cst.Call:
                        value = small.value
                        inner = value.func if type(value.func) is cst.Call else value
                        framework = _decorator_of(inner, resolver, assigns)
                        if framework:
                            return framework
    return None


def _serializer_name(value: cst.BaseExpression) -> str | None:
    # `os.environ.get("CELERY_TASK_SERIALIZER", "pickle")`: the default is what most runs use.
    strings = [value] if type(value) is cst.SimpleString else [
        n for n in iter_body_nodes(value) if type(n) is cst.SimpleString
    ]
    names = [s.evaluated_value for s in strings if isinstance(s.evaluated_value, str)]
    return next((n for n in names if "pickle" in n), names[-1] if names else None)


def _serializer(stmt: cst.BaseSmallStatement) -> str | None:
    """`celery=pickle` for `CELERY_TASK_SERIALIZER = "pickle"`, `app.conf.update(...)`, …"""
    value: cst.BaseExpression | None = None
    call: cst.BaseExpression | None = None
    if type(stmt) is cst.Assign:
        for target in stmt.targets:
            name = dotted_name(target.target) or ""
            if name.rsplit(".", 1)[-1] in _CELERY_SETTINGS:
                value = stmt.value
        call = stmt.value
    else:
        call = stmt.value if type(stmt) is cst.Expr else None
    if value is None and type(call) is cst.Call:
        value = next((a.value for a in call.args
                      if a.keyword is not None and a.keyword.value in _CELERY_SETTINGS), None)
    found = _serializer_name(value) if value is not None else None
    return f"celery={found}" if found else None


def _partial_target(call: cst.Call) -> str | None:
    """`shared_task` for `partial(shared_task, bind=True)`: a partial acts as its target."""
    if (dotted_name(call.func) or "").rsplit(".", 1)[-1] != "partial" or not call.args:
        return None
    first = call.args[0]
    return dotted_name(first.value) if first.keyword is None and not first.star else None


# Exact-type screens before the isinstance() that narrows (see names.dotted_name).
_BLOCKS = frozenset({cst.If, cst.Try})
_IMPORTS = frozenset({cst.Import, cst.ImportFrom})


def _iter_top_level(body: Any) -> Any:
    """Top-level statements, looking inside `if`/`try` blocks where imports often hide."""
    for stmt in body:
        if type(stmt) in _BLOCKS and isinstance(stmt, cst.If | cst.Try):
            yield from _iter_top_level(stmt.body.body)
            orelse = stmt.orelse if type(stmt) is cst.If else None
            if type(orelse) is cst.Else:
                yield from _iter_top_level(orelse.body.body)
            if type(stmt) is cst.Try:
                for handler in stmt.handlers:
                    yield from _iter_top_level(handler.body.body)
        else:
            yield stmt


def summarize(module: cst.Module, *, name: str, is_package: bool) -> ModuleSummary:
    """Collect imports, classes, functions, simple assignments and job definitions."""
    summary = ModuleSummary(module=name, is_package=is_package)
    deferred: list[cst.FunctionDef | cst.ClassDef] = []
    for stmt in _iter_top_level(module.body):
        if type(stmt) is cst.SimpleStatementLine:
            for small in stmt.body:
                if (found := _serializer(small)) is not None:
                    summary.serializers.append(found)
                if type(small) in _IMPORTS and isinstance(small, cst.Import | cst.ImportFrom):
                    pairs = tuple(import_bindings(small, module=name, is_package=is_package))
                    summary.bound[id(small)] = pairs
                    summary.imports.update(pairs)
                elif type(small) is cst.Assign and type(small.value) is cst.Call:
                    callee = _partial_target(small.value) or dotted_name(small.value.func)
                    for target in small.targets:
                        if type(target.target) is cst.Name and callee:
                            summary.assigns[target.target.value] = callee
        elif type(stmt) is cst.FunctionDef:
            summary.functions.append(stmt.name.value)
            deferred.append(stmt)
        elif type(stmt) is cst.ClassDef:
            summary.classes[stmt.name.value] = []
            deferred.append(stmt)
    resolver = summary.resolver()
    # Assignments are qualified only now, once every import above and below them is known.
    summary.assigns = {k: resolver.qualify_dotted(v) for k, v in summary.assigns.items()}
    for node in deferred:
        if type(node) is cst.ClassDef:
            bases = [resolver.qualify(arg.value) for arg in node.bases if arg.keyword is None]
            summary.classes[node.name.value] = [b for b in bases if b]
            perform = perform_method(node)
            if perform is not None:
                summary.signatures[node.name.value] = signature_of(perform, skip_first=True)
    prefix = f"{name}." if name else ""
    for alias, callee in summary.assigns.items():
        # `job = partial(RecordingJob, connection=...)` where `class RecordingJob(rq_job)`.
        local = callee[len(prefix):] if callee.startswith(prefix) else None
        candidates = [callee, *summary.classes.get(local or "", [])]
        framework = next((f for c in candidates if (f := decorator_framework(c, None, ""))), None)
        if framework:
            summary.job_decorators[alias] = framework
    for node in deferred:
        if isinstance(node, cst.ClassDef):
            continue
        framework = _wrapper_framework(node, resolver, summary.assigns)
        if framework:
            summary.job_decorators[node.name.value] = framework
    for node in deferred:
        if isinstance(node, cst.ClassDef) or not node.decorators:
            continue
        summary.signatures[node.name.value] = signature_of(node, skip_first=False)
        for decorator in node.decorators:
            local = dotted_name(_callee(decorator.decorator)) or ""
            framework = summary.job_decorators.get(local) or _decorator_of(
                decorator.decorator, resolver, summary.assigns
            )
            if framework == "celery" and node.asynchronous is not None and not (
                resolver.qualify(_callee(decorator.decorator)) or ""
            ).startswith("celery"):
                # Celery never awaits a coroutine: `@broker.task async def` with a broker
                # imported from elsewhere is taskiq's.
                framework = "taskiq"
            if framework:
                summary.jobs[node.name.value] = framework
                break
        else:
            names = [resolver.qualify(_callee(d.decorator)) for d in node.decorators]
            summary.decorated[node.name.value] = [n for n in names if n]
    for imported in summary.imports.values():
        if imported.startswith("rq.serializers.") and "JSON" in imported:
            summary.serializers.append("rq=json")
    summary.registered = registered_jobs(module, summary, resolver)
    return summary


#: Where arq and SAQ list a worker's jobs: arq's ``WorkerSettings.functions``/``cron_jobs``,
#: SAQ's settings dict keys and ``Worker(functions=[...], cron_jobs=[...])``.
_REGISTRY_NAMES = frozenset({"functions", "cron_jobs"})
#: Wrappers around a listed coroutine: ``arq.worker.func(f, ...)``, ``arq.cron.cron(f)``,
#: ``saq.CronJob(f, ...)``.
_WRAPPERS = frozenset({"func", "cron", "CronJob"})


def registered_jobs(
    module: cst.Module, summary: ModuleSummary, resolver: NameResolver
) -> dict[str, str]:
    """The coroutines an arq or SAQ worker definition in this module lists as its jobs."""
    roots = {q.split(".", 1)[0] for q in summary.imports.values()}
    framework = "arq" if "arq" in roots else "saq" if "saq" in roots else None
    if framework is None:
        return {}
    found: dict[str, str] = {}
    for node in _registry_lists(module):
        for element in node.elements:
            value = element.value
            if type(value) is cst.Call and (dotted_name(value.func) or "").rsplit(
                ".", 1
            )[-1] in _WRAPPERS:
                positional = [a.value for a in value.args if a.keyword is None]
                value = positional[0] if positional else value
            if isinstance(value, cst.Name | cst.Attribute):
                qualified = resolver.qualify(value)
                if qualified:
                    found[qualified] = framework
    return found


def _registry_lists(module: cst.Module) -> list[cst.List | cst.Tuple]:
    lists: list[cst.List | cst.Tuple] = []

    class Finder(cst.CSTVisitor):
        def visit_Assign(self, node: cst.Assign) -> None:
            if any(type(t.target) is cst.Name and t.target.value in _REGISTRY_NAMES
                   for t in node.targets) and isinstance(node.value, cst.List | cst.Tuple):
                lists.append(node.value)

        def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
            # `functions: list = [generate]`
            if type(node.target) is cst.Name and node.target.value in _REGISTRY_NAMES \
                    and isinstance(node.value, cst.List | cst.Tuple):
                lists.append(node.value)

        def visit_DictElement(self, node: cst.DictElement) -> None:
            key = node.key
            if type(key) is cst.SimpleString and key.evaluated_value in _REGISTRY_NAMES \
                    and isinstance(node.value, cst.List | cst.Tuple):
                lists.append(node.value)

        def visit_Arg(self, node: cst.Arg) -> None:
            if node.keyword is not None and node.keyword.value in _REGISTRY_NAMES \
                    and isinstance(node.value, cst.List | cst.Tuple):
                lists.append(node.value)

    module.visit(Finder())
    return lists
