"""`--fix` and `--diff`: libcst codemods for the two rewrites that keep the program's meaning.

- JK402 inside a Django `transaction.atomic()` block (or an `@transaction.atomic` function):
  the enqueue statement becomes `transaction.on_commit(partial(task.delay, ...))`, or
  `task.delay_on_commit(...)` when the project declares Celery >= 5.4. `partial` evaluates the
  arguments where the enqueue was, exactly as before; only the send waits for the commit,
  which is what Celery's own `delay_on_commit` does (`on_commit(partial(self.delay, ...))`).
- JK101 where the job's parameter is named `*_id` or annotated `int`: `order` becomes
  `order.pk`, for Django model instances (an ORM `get`, `get_object_or_404`, a parameter
  annotated with the model class, a loop over a queryset, `self` in a model).

Anything else is left as it is and reported as left, with the reason.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import AddImportsVisitor
from libcst.metadata import MetadataWrapper, PositionProvider

from jobkit_lint.analysis import analyze
from jobkit_lint.config import Config, load_config
from jobkit_lint.declared import declared_floor, declares
from jobkit_lint.discovery import discover, module_name, relative_label
from jobkit_lint.engine import ParsedModule, parse
from jobkit_lint.facts import Enqueue, FileFacts, Scope
from jobkit_lint.finding import Finding
from jobkit_lint.fix_pk import pk_blocker
from jobkit_lint.index import ProjectIndex
from jobkit_lint.prefilter import may_define, may_lint, names_pattern
from jobkit_lint.rules.enqueue_in_transaction import EnqueueInTransaction
from jobkit_lint.rules.model_argument import ModelArgument
from jobkit_lint.runner import lint_paths

__all__ = ["FIXABLE", "Fix", "FixReport", "fix_paths"]

FIXABLE = frozenset({"JK101", "JK402"})
_ATOMIC = "django.db.transaction.atomic"
_CELERY_ON_COMMIT = (5, 4)
_ON_COMMIT_METHODS = {"delay": "delay_on_commit", "apply_async": "apply_async_on_commit"}


@dataclass(frozen=True)
class Fix:
    """One rewrite: where, which code, and what it became."""

    path: str
    line: int
    code: str
    description: str


@dataclass
class FixReport:
    """What was fixed, the findings left (with why, for fixable codes) and the new sources."""

    fixed: list[Fix] = field(default_factory=list)
    left: list[tuple[Finding, str | None]] = field(default_factory=list)
    changes: dict[str, tuple[str, str]] = field(default_factory=dict)

    def diff(self) -> str:
        """A unified diff of every changed file."""
        chunks: list[str] = []
        for label, (old, new) in sorted(self.changes.items()):
            chunks.extend(difflib.unified_diff(
                old.splitlines(keepends=True), new.splitlines(keepends=True),
                fromfile=f"a/{label.lstrip('/')}", tofile=f"b/{label.lstrip('/')}",
            ))
        return "".join(chunks)


@dataclass
class _Project:
    index: ProjectIndex
    parsed: dict[str, ParsedModule]
    paths: dict[str, Path]
    celery_on_commit: bool
    django: bool


def _load(roots: Sequence[Path], config: Config, wanted: set[str]) -> _Project:
    """Parse what the runner parses, so the index (and thus the facts) are the same."""
    summaries = []
    parsed: dict[str, ParsedModule] = {}
    paths: dict[str, Path] = {}
    custom_task_class = False
    extra = names_pattern(config.model_base_classes)
    for path in discover(roots, root=config.root, exclude=config.exclude):
        label = relative_label(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        # A project-wide `task_cls` may not derive from Celery's DjangoTask, which is what
        # gives tasks `delay_on_commit`.
        custom_task_class = custom_task_class or "task_cls" in text
        if not (may_define(text, extra) or may_lint(text)):
            continue
        module, is_package = module_name(path)
        unit = parse(label, text, module=module, is_package=is_package)
        summaries.append(unit.summary)
        if label in wanted and unit.tree is not None:
            parsed[label], paths[label] = unit, path
    floor = declared_floor(config.root, "celery")
    on_commit = floor is not None and floor >= _CELERY_ON_COMMIT and not custom_task_class
    django = declares(config.root, "django")
    return _Project(ProjectIndex(summaries, config), parsed, paths, on_commit, django)


def fix_paths(
    paths: Sequence[str | os.PathLike[str]] = (".",),
    *,
    config: Config | None = None,
    write: bool = False,
    use_cache: bool = True,
) -> FixReport:
    """Fix what can be fixed under `paths`; write the files only when `write` is true."""
    roots = [Path(p) for p in paths] or [Path(".")]
    config = config or load_config(roots[0])
    findings = lint_paths(roots, config=config, use_cache=use_cache).findings
    by_file: dict[str, list[Finding]] = {}
    for finding in findings:
        if finding.code in FIXABLE:
            by_file.setdefault(finding.path, []).append(finding)
    report = FixReport()
    project = _load(roots, config, set(by_file)) if by_file else None
    reasons: dict[Finding, str] = {}
    for label, wanted in sorted(by_file.items()):
        unit = project.parsed.get(label) if project else None
        if project is None or unit is None:
            reasons.update(dict.fromkeys(wanted, "the file could not be re-read"))
            continue
        new_source, fixed, unfixed = _fix_module(unit, project, wanted)
        report.fixed.extend(fixed)
        reasons.update(unfixed)
        if fixed and new_source != unit.source:
            report.changes[label] = (unit.source, new_source)
            if write:
                project.paths[label].write_text(new_source, encoding="utf-8")
    done = {(f.path, f.line, f.code) for f in report.fixed}
    report.left = [
        (f, reasons.get(f)) for f in findings if (f.path, f.line, f.code) not in done
    ]
    return report


class _Plan:
    """The rewrites decided for one module, keyed by the id of the node they replace."""

    def __init__(self) -> None:
        self.enqueues: dict[int, tuple[Enqueue, Finding]] = {}
        self.pk: dict[int, Finding] = {}
        self.fixed: list[Fix] = []
        self.unfixed: dict[Finding, str] = {}
        self.imports: set[tuple[str, str]] = set()


def _fix_module(
    unit: ParsedModule, project: _Project, wanted: list[Finding]
) -> tuple[str, list[Fix], dict[Finding, str]]:
    assert unit.tree is not None
    facts = analyze(unit.tree, unit.summary.resolver(), project.index, unit.summary.jobs)
    # libcst's own positions (only for the few files being fixed) tie each violation to the
    # finding it became; `unsafe_skip_copy` keeps the node identities the facts refer to.
    positions = MetadataWrapper(unit.tree, unsafe_skip_copy=True).resolve(PositionProvider)
    reported = {(f.code, f.line, f.column): f for f in wanted}
    lines: dict[tuple[str, int], list[Finding]] = {}
    for f in wanted:
        lines.setdefault((f.code, f.line), []).append(f)
    by_call = {id(e.call): e for e in facts.enqueues}
    plan = _Plan()
    for rule in (EnqueueInTransaction(), ModelArgument()):
        for violation in rule.check(facts):
            where = positions.get(violation.node) or (
                positions.get(violation.anchor) if violation.anchor is not None else None
            )
            if where is None:
                continue
            line, column = where.start.line, where.start.column + 1
            same_line = lines.get((rule.CODE, line), [])
            finding = reported.get((rule.CODE, line, column)) or (
                same_line[0] if len(same_line) == 1 else None
            )
            if finding is None:
                continue  # suppressed, ignored or not selected: not ours to touch
            if rule.CODE == "JK402":
                plan.enqueues[id(violation.node)] = (by_call[id(violation.node)], finding)
            else:
                anchor = violation.anchor
                enqueue = by_call.get(id(anchor)) if anchor is not None else None
                django = project.django or any(
                    q.startswith("django.") for q in facts.resolver.imports.values()
                )
                why = pk_blocker(facts, enqueue, violation.node, django=django)
                if why:
                    plan.unfixed[finding] = why
                else:
                    plan.pk[id(violation.node)] = finding
    if not plan.enqueues and not plan.pk:
        return unit.source, [], plan.unfixed
    tree = unit.tree.visit(_Rewriter(facts, project, plan))
    if plan.imports:
        context = CodemodContext()
        for module, name in sorted(plan.imports):
            AddImportsVisitor.add_needed_import(context, module, name)
        tree = AddImportsVisitor(context).transform_module(tree)
    for _enqueue, left in plan.enqueues.values():
        plan.unfixed.setdefault(left, "the enqueue is not a statement of its own")
    done = {(f.line, f.code) for f in plan.fixed}
    unfixed = {f: r for f, r in plan.unfixed.items() if (f.line, f.code) not in done}
    return tree.code, plan.fixed, unfixed


def _using(facts: FileFacts, expr: cst.BaseExpression) -> str | bool | None:
    """The `using=` of a Django atomic (None for the default database); False when the
    context is not Django's `atomic` at all."""
    callee = expr.func if type(expr) is cst.Call else expr
    if facts.resolver.qualify(callee) != _ATOMIC:
        return False
    if type(expr) is not cst.Call:
        return None
    using = next((a.value for a in expr.args if a.keyword and a.keyword.value == "using"), None)
    if using is None and expr.args and expr.args[0].keyword is None:
        using = expr.args[0].value
    if using is None:
        return None
    if isinstance(using, cst.SimpleString | cst.Name | cst.Attribute):
        return cst.Module([]).code_for_node(using)
    return "?"  # a computed alias: cannot be repeated safely


class _Rewriter(cst.CSTTransformer):
    def __init__(self, facts: FileFacts, project: _Project, plan: _Plan) -> None:
        super().__init__()
        self.facts = facts
        self.project = project
        self.plan = plan
        # Per function, per `with` block: the `using` of each transaction it opens (None:
        # the default database; False: a transaction manager that is not Django's atomic).
        self.frames: list[list[list[str | bool | None]]] = [[]]

    def _transactions(self, exprs: Sequence[cst.BaseExpression]) -> list[str | bool | None]:
        found = []
        for expr in exprs:
            using = _using(self.facts, expr)
            if using is not False or _atomic_like(self.facts, expr):
                found.append(using)
        return found

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.frames.append([self._transactions([d.decorator for d in node.decorators])])

    def leave_FunctionDef(
        self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef
    ) -> cst.FunctionDef:
        self.frames.pop()
        return updated_node

    def visit_With(self, node: cst.With) -> None:
        self.frames[-1].append(self._transactions([item.item for item in node.items]))

    def leave_With(self, original_node: cst.With, updated_node: cst.With) -> cst.With:
        self.frames[-1].pop()
        return updated_node

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.BaseExpression:
        finding = self.plan.pk.get(id(original_node))
        if finding is None:
            return updated_node
        self.plan.fixed.append(Fix(finding.path, finding.line, finding.code,
                                   f"{original_node.value} -> {original_node.value}.pk"))
        return cst.Attribute(value=updated_node, attr=cst.Name("pk"))

    def leave_Expr(self, original_node: cst.Expr, updated_node: cst.Expr) -> cst.Expr:
        planned = self.plan.enqueues.pop(id(original_node.value), None)
        if planned is None or type(updated_node.value) is not cst.Call:
            return updated_node
        enqueue, finding = planned
        transactions = [t for block in self.frames[-1] for t in block]
        rewritten, why = self._deferred(enqueue, updated_node.value, transactions)
        if rewritten is None:
            self.plan.unfixed[finding] = why or "not rewritten"
            return updated_node
        before = cst.Module([]).code_for_node(updated_node.value.func)
        after = " ".join(cst.Module([]).code_for_node(rewritten).split())
        short = after if len(after) <= 80 else after[:77] + "..."
        self.plan.fixed.append(Fix(finding.path, finding.line, finding.code,
                                   f"{before}(...) -> {short}"))
        return updated_node.with_changes(value=rewritten)

    def _deferred(
        self, enqueue: Enqueue, call: cst.Call, transactions: list[str | bool | None]
    ) -> tuple[cst.Call | None, str | None]:
        if not transactions:
            return None, "the transaction is opened outside this function"
        if any(t is False for t in transactions):
            return None, "not a Django transaction.atomic() block"
        if len(set(transactions)) > 1 or "?" in transactions:
            return None, "nested transactions on different databases"
        using = transactions[0]
        func = call.func
        resolver = self.facts.resolver
        if (
            using is None and self.project.celery_on_commit
            and type(func) is cst.Attribute and func.attr.value in _ON_COMMIT_METHODS
            and self._plain_celery_task(enqueue)
        ):
            method = _ON_COMMIT_METHODS[func.attr.value]
            return call.with_changes(func=func.with_changes(attr=cst.Name(method))), None
        for name, module in (("transaction", "django.db"), ("partial", "functools")):
            bound = resolver.qualify_dotted(name)
            if bound == f"{module}.{name}":
                continue
            if name in resolver.imports or name in resolver.locals or _bound(enqueue.scope, name):
                return None, f"the name `{name}` is bound to something else here"
            self.plan.imports.add((module, name))
        # The original arguments keep their commas, line breaks and comments; the callee
        # moves in front of them, taking the whitespace that followed the parenthesis.
        after = call.whitespace_before_args
        if type(after) is cst.SimpleWhitespace and not after.value:
            after = cst.SimpleWhitespace(" ")
        first = cst.Arg(func, comma=cst.Comma(whitespace_after=after))
        if not call.args:
            first = cst.Arg(func)
        inner = call.with_changes(
            func=cst.Name("partial"), args=[first, *call.args],
            whitespace_before_args=cst.SimpleWhitespace(""),
        )
        args = [cst.Arg(inner)]
        if isinstance(using, str):
            tight = cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""),
                                    whitespace_after=cst.SimpleWhitespace(""))
            args.append(cst.Arg(cst.parse_expression(using), keyword=cst.Name("using"),
                                equal=tight))
        on_commit = cst.Attribute(value=cst.Name("transaction"), attr=cst.Name("on_commit"))
        return cst.Call(func=on_commit, args=args), None

    def _plain_celery_task(self, enqueue: Enqueue) -> bool:
        """A Celery task defined here with the default task class (no `base=`)."""
        index = self.facts.index
        if index.job_framework(enqueue.job) != "celery":
            return False
        signature = index.signature(enqueue.job)
        return signature is not None and "base" not in signature.get("decorator_keywords", [])


def _bound(scope: Scope | None, name: str) -> bool:
    """Whether `name` is assigned or a parameter in the enqueue's function or the module."""
    while scope is not None:
        if name in scope.env or name in scope.params or name in scope.loops:
            return True
        scope = scope.parent
    return False


def _atomic_like(facts: FileFacts, expr: cst.BaseExpression) -> bool:
    """Other transaction managers (SQLAlchemy `begin()`, wrappers named like atomic)."""
    callee = expr.func if type(expr) is cst.Call else expr
    name = (facts.resolver.qualify(callee) or "").rsplit(".", 1)[-1].lower()
    return "atomic" in name or "transaction" in name or name in {"begin", "begin_nested"}
