"""One traversal per file that collects the facts every rule reads.

Rules do not walk the tree themselves: this module walks once and records job definitions,
enqueue sites, request handlers, e-mail calls and simple name bindings into `FileFacts`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import libcst as cst

from jobkit_lint.facts import Enqueue, FileFacts, JobDef, Scope
from jobkit_lint.frameworks import EnqueueSite, recognize_enqueue
from jobkit_lint.index import ProjectIndex
from jobkit_lint.names import NameResolver, dotted_name, import_bindings
from jobkit_lint.traversal import FIELDS, SKIP_TYPES, fields_of, iter_body_nodes

__all__ = ["analyze"]

_HANDLER_METHOD_BASES = ("View", "ViewSet", "APIView", "ViewSetMixin")
_ROUTE_ATTRS = frozenset({"route", "get", "post", "put", "patch", "delete", "api_route"})
_EMAIL_FUNCS = frozenset({"send_mail", "send_mass_mail", "mail_admins", "mail_managers"})
_EMAIL_CLASSES = frozenset({"EmailMessage", "EmailMultiAlternatives"})
# The method that holds a class-based job's body, per framework.
_BODY_METHODS = {"jobkit": "perform", "dramatiq": "perform", "celery": "run"}


class _Walker:
    def __init__(self, facts: FileFacts) -> None:
        self.facts = facts
        self.scope = facts.module_scope
        self.class_stack: list[tuple[str, JobDef | None, bool]] = []
        self.in_class_body = False
        self.atomic_depth = 0
        self.on_commit_depth = 0
        # Bindings and enqueues are numbered in source order, so a name's value at an enqueue
        # is its last binding before it.
        self.seq = 0
        # Inside a `try` whose handlers catch SMTP errors: the handler reports the send's
        # outcome to the user (a "send a test e-mail" endpoint), so the wait is the point.
        self.smtp_try_depth = 0
        # The nodes being visited, outermost first; an enqueue keeps a copy.
        self.path: list[cst.CSTNode] = []

    def visit(self, node: cst.CSTNode) -> None:
        path = self.path
        path.append(node)
        handler = _HANDLERS.get(type(node))
        if handler is None:
            self.children(node)
        else:
            handler(self, node)
        path.pop()

    def children(self, node: cst.CSTNode) -> None:
        # The hottest loop of the linter: inlined field access and visit(), exact type
        # checks, and no call at all for leaves; one call per node that has children.
        path = self.path
        handlers = _HANDLERS
        kind = type(node)
        for name in FIELDS.get(kind) or fields_of(kind):
            value = getattr(node, name)
            value_kind = type(value)
            if value_kind is tuple or value_kind is list:
                items = value
            elif value_kind in SKIP_TYPES:
                continue
            else:
                items = (value,)
            for item in items:
                item_kind = type(item)
                # Wrappers that hold one expression and nothing a rule reads are stepped
                # over, and a dotted name holds nothing below it: a third of all nodes.
                if item_kind is cst.Arg or item_kind is cst.Expr:
                    item = item.value
                    item_kind = type(item)
                if item_kind is cst.Attribute:
                    base = item.value
                    while type(base) is cst.Attribute:
                        base = base.value
                    if type(base) in SKIP_TYPES:
                        continue
                if item_kind in SKIP_TYPES:
                    continue
                path.append(item)
                handler = handlers.get(item_kind)
                if handler is None:
                    self.children(item)
                else:
                    handler(self, item)
                path.pop()

    def import_(self, node: cst.Import | cst.ImportFrom) -> None:
        # Function-level imports (common to dodge import cycles) join the module's map.
        resolver = self.facts.resolver
        pairs = self.facts.bound.get(id(node))
        resolver.imports.update(
            import_bindings(node, module=resolver.module, is_package=resolver.is_package)
            if pairs is None else pairs
        )

    def klass(self, node: cst.ClassDef) -> None:
        for decorator in node.decorators:
            self.visit(decorator)
        for arg in (*node.bases, *node.keywords):
            self.visit(arg)
        top = not self.class_stack and self.scope.parent is None
        qualified = self.qualified_name(node.name.value) if top else node.name.value
        framework = self.facts.index.job_framework(qualified) if top else None
        if top and framework is None:
            # This module may have been parsed after the index was built (it only mentions a
            # job base class), so look at its bases directly.
            bases = [self.facts.resolver.qualify(arg.value) for arg in node.bases]
            framework = next(
                (f for b in bases if b and (f := self.facts.index.class_job_framework(b))), None
            )
        job = JobDef(node, framework) if framework else None
        if job:
            self.facts.jobs.append(job)
        is_view = any(
            (dotted_name(arg.value) or "").endswith(_HANDLER_METHOD_BASES) for arg in node.bases
        )
        self.class_stack.append((qualified, job, is_view))
        outer = self.in_class_body
        self.in_class_body = True
        self.visit(node.body)
        self.in_class_body = outer
        self.class_stack.pop()

    def qualified_name(self, name: str) -> str:
        module = self.facts.resolver.module
        return f"{module}.{name}" if module else name

    def function(self, node: cst.FunctionDef) -> None:
        for decorator in node.decorators:
            self.visit(decorator)
        # Of the signature only default values can hold a call worth seeing; annotations
        # (a fifth of a typed module's nodes) hold none.
        for param in _all_params(node.params):
            if param.default is not None and type(param.default) not in SKIP_TYPES:
                self.visit(param.default)
        method_of = self.class_stack[-1] if self.in_class_body and self.class_stack else None
        scope = Scope(parent=self.scope, class_name=method_of[0] if method_of else None,
                      opened=self.seq, node=node)
        for param in (*node.params.posonly_params, *node.params.params,
                      *node.params.kwonly_params):
            scope.params[param.name.value] = (
                param.annotation.annotation if param.annotation else None
            )
        scope.transactional = any(self.is_atomic(d.decorator) for d in node.decorators)
        job = self.job_for(node, method_of)
        scope.handler = job is None and self.is_handler(node, method_of)
        saved = (self.scope, self.in_class_body, self.atomic_depth, self.on_commit_depth)
        self.scope, self.in_class_body, self.atomic_depth = scope, False, 0
        self.visit(node.body)
        self.scope, self.in_class_body, self.atomic_depth, self.on_commit_depth = saved

    def job_for(
        self, node: cst.FunctionDef, method_of: tuple[str, JobDef | None, bool] | None
    ) -> JobDef | None:
        if method_of is not None:
            job = method_of[1]
            if job is not None and node.name.value == _BODY_METHODS.get(job.framework, "perform"):
                job.bodies.append(node)
            return job
        if self.scope.parent is not None or self.class_stack:
            return None
        framework = self.facts.index.job_framework(self.qualified_name(node.name.value))
        framework = framework or self.facts.own_jobs.get(node.name.value)
        if framework is None:
            return None
        job = JobDef(node, framework, [node])
        self.facts.jobs.append(job)
        return job

    def is_handler(
        self, node: cst.FunctionDef, method_of: tuple[str, JobDef | None, bool] | None
    ) -> bool:
        if method_of is not None:
            return method_of[2] and not node.name.value.startswith("_")
        for decorator in node.decorators:
            expr = decorator.decorator
            if type(expr) is cst.Call and type(expr.func) is cst.Attribute:
                first = expr.args[0].value if expr.args else None
                if expr.func.attr.value in _ROUTE_ATTRS and type(first) is cst.SimpleString:
                    return True
            name = dotted_name(expr.func if type(expr) is cst.Call else expr) or ""
            if name.rsplit(".", 1)[-1] == "api_view":
                return True
        params = node.params.params
        return not self.class_stack and bool(params) and params[0].name.value == "request"

    def is_atomic(self, expr: cst.BaseExpression) -> bool:
        """A transaction opened by `expr` (a `with` item or a decorator) that may write."""
        callee = expr.func if type(expr) is cst.Call else expr
        name = self.facts.resolver.qualify(callee) or ""
        last = name.rsplit(".", 1)[-1]
        lowered = last.lower()
        managers = self.facts.index.transaction_managers
        if name in managers or last in managers or (
            ("atomic" in lowered or "transaction" in lowered)
            and not lowered.startswith(("non_atomic", "no_", "without_"))
        ):
            return not self.read_only(expr)
        # SQLAlchemy: `with session.begin():` / `with db.session.begin_nested():`.
        return type(expr) is cst.Call and type(callee) is cst.Attribute and (
            callee.attr.value in {"begin", "begin_nested"}
        )

    def read_only(self, expr: cst.BaseExpression) -> bool:
        # `transaction.atomic(using=replica)`: a read-only snapshot cannot commit anything a
        # job could read too early.
        if type(expr) is not cst.Call:
            return False
        using = [a.value for a in expr.args if a.keyword and a.keyword.value == "using"]
        using = using or [a.value for a in expr.args[:1] if a.keyword is None]
        for value in using:
            if type(value) is cst.SimpleString:
                text = str(value.evaluated_value)
            else:
                text = dotted_name(value) or self.facts.module.code_for_node(value)
            text = text.lower()
            if any(db.lower() in text for db in self.facts.index.read_only_databases):
                return True
        return False

    def with_block(self, node: cst.With) -> None:
        atomic = False
        for item in node.items:
            self.visit(item.item)
            atomic = atomic or self.is_atomic(item.item)
            if item.asname is not None and type(item.asname.name) is cst.Name:
                self.bind(item.asname.name.value, item.item)
        self.atomic_depth += atomic
        self.visit(node.body)
        self.atomic_depth -= atomic

    def bind(self, name: str, value: cst.BaseExpression) -> None:
        self.seq += 1
        self.scope.bind(name, value, self.seq)

    def assign(self, node: cst.Assign) -> None:
        # The value is evaluated before the name is bound: `x = f(x)` reads the old `x`.
        self.children(node)
        for target in node.targets:
            if type(target.target) is cst.Name:
                self.bind(target.target.value, node.value)
            elif type(target.target) is cst.Subscript:
                self.store(target.target, node.value)

    def store(self, target: cst.BaseExpression, value: cst.BaseExpression) -> None:
        depth, base = 0, target
        while type(base) is cst.Subscript:
            depth, base = depth + 1, base.value
        if type(base) is cst.Name:
            self.scope.stores.setdefault(base.value, []).append((depth, value))

    def ann_assign(self, node: cst.AnnAssign) -> None:
        self.children(node)
        if type(node.target) is cst.Name and node.value is not None:
            self.bind(node.target.value, node.value)

    def try_block(self, node: cst.Try) -> None:
        smtp = any(
            any("SMTP" in name or name.endswith("BadHeaderError") for name in _caught(handler))
            and any(type(n) is cst.Return for n in iter_body_nodes(handler.body))
            for handler in node.handlers
        )
        self.smtp_try_depth += smtp
        self.visit(node.body)
        self.smtp_try_depth -= smtp
        for handler in node.handlers:
            self.visit(handler)
        if node.orelse is not None:
            self.visit(node.orelse)
        if node.finalbody is not None:
            self.visit(node.finalbody)

    def for_loop(self, node: cst.For) -> None:
        self.facts.for_seqs[id(node)] = self.seq
        if type(node.target) is cst.Name:
            self.scope.loops[node.target.value] = node.iter
        self.children(node)

    def call(self, node: cst.Call) -> None:
        facts = self.facts
        if type(node.func) is cst.Name:
            facts.calls.setdefault(node.func.value, []).append((node, self.scope, self.seq + 1))
        func = node.func
        # The last name first: a dotted name is only worth building for an `on_commit`.
        last = (func.attr.value if type(func) is cst.Attribute
                else func.value if type(func) is cst.Name else None)
        if last == "on_commit" and dotted_name(func) is not None:
            self.visit(node.func)
            self.on_commit_depth += 1
            for arg in node.args:
                self.visit(arg)
            self.on_commit_depth -= 1
            return
        site = recognize_enqueue(node, facts.resolver, facts.index)
        if site is None and self.on_commit_depth > 0:
            site = self.partial_enqueue(node)
        if site is not None:
            in_tx = self.atomic_depth > 0 or self.scope.transactional
            self.seq += 1
            facts.enqueues.append(Enqueue(
                node, site.framework, site.job, site.args, self.scope, in_tx,
                self.on_commit_depth > 0 or site.on_commit, self.seq, tuple(self.path),
            ))
        elif self.scope.handler and not self.smtp_try_depth and self.is_email(node):
            facts.emails.append((node, self.scope))
        self.children(node)

    def partial_enqueue(self, node: cst.Call) -> EnqueueSite | None:
        # `transaction.on_commit(partial(task.delay, order))` enqueues `task.delay(order)`.
        name = self.facts.resolver.qualify(node.func) or ""
        if name not in {"functools.partial", "partial"} or not node.args:
            return None
        if node.args[0].keyword is not None:
            return None
        call = cst.Call(func=node.args[0].value, args=node.args[1:])
        return recognize_enqueue(call, self.facts.resolver, self.facts.index)

    def is_email(self, node: cst.Call) -> bool:
        func = node.func
        qualified = self.facts.resolver.qualify(func) or ""
        last = qualified.rsplit(".", 1)[-1]
        if last in _EMAIL_FUNCS:
            return True
        if type(func) is not cst.Attribute:
            return False
        receiver = func.value
        if func.attr.value == "email_user":
            return True
        if func.attr.value not in {"send", "send_message", "sendmail"}:
            return False
        if type(receiver) is cst.Call:
            # `smtplib.SMTP(host)` itself only connects: the send is the one finding.
            created = self.facts.resolver.qualify(receiver.func) or ""
            return created.rsplit(".", 1)[-1] in _EMAIL_CLASSES | {"SMTP", "SMTP_SSL"}
        if type(receiver) is cst.Name:
            if receiver.value == "mail":
                return True
            bound = self.scope.env.get(receiver.value, [])
            return any(
                type(v) is cst.Call
                and (self.facts.resolver.qualify(v.func) or "").rsplit(".", 1)[-1]
                in _EMAIL_CLASSES | {"SMTP", "SMTP_SSL"}
                for v in bound
            )
        return False


def _all_params(params: cst.Parameters) -> list[cst.Param]:
    star = [p for p in (params.star_arg, params.star_kwarg) if type(p) is cst.Param]
    return [*params.posonly_params, *params.params, *params.kwonly_params, *star]


def _caught(handler: cst.ExceptHandler) -> list[str]:
    kind = handler.type
    if kind is None:
        return []
    exprs = [e.value for e in kind.elements] if type(kind) is cst.Tuple else [kind]
    return [dotted_name(e) or "" for e in exprs]


# Unbound functions, not bound methods stored on the walker: a walker holding its own bound
# methods is a reference cycle, and with the collector paused every tree would then leak.
_HANDLERS: dict[type, Callable[[_Walker, Any], None]] = {
    cst.FunctionDef: _Walker.function,
    cst.ClassDef: _Walker.klass,
    cst.Call: _Walker.call,
    cst.Assign: _Walker.assign,
    cst.AnnAssign: _Walker.ann_assign,
    cst.For: _Walker.for_loop,
    cst.Try: _Walker.try_block,
    cst.With: _Walker.with_block,
    cst.Import: _Walker.import_,
    cst.ImportFrom: _Walker.import_,
}


def analyze(
    module: cst.Module,
    resolver: NameResolver,
    index: ProjectIndex,
    own_jobs: dict[str, str] | None = None,
    bound: dict[int, tuple[tuple[str, str], ...]] | None = None,
) -> FileFacts:
    """Walk `module` once and return its facts; `own_jobs` are this module's decorated jobs,
    `bound` what its top-level imports bind (see `ModuleSummary.bound`)."""
    facts = FileFacts(module=module, resolver=resolver, index=index, module_scope=Scope(),
                      own_jobs=own_jobs or {}, bound=bound or {})
    _Walker(facts).visit(module)
    return facts
