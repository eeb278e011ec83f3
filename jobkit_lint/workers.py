"""Parse and lint work units, run in-process or in a pool of worker processes.

Each worker keeps the libcst trees it parsed for the index pass and lints them in the second
pass, so no file is parsed twice and no tree crosses a process boundary (pickling a libcst
tree costs more than parsing it).
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import traceback
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from multiprocessing.connection import Connection
from typing import Any

from jobkit_lint.engine import ParsedModule, lint_parsed, parse
from jobkit_lint.errors import JobkitLintError
from jobkit_lint.finding import Finding
from jobkit_lint.index import ProjectIndex
from jobkit_lint.registry import select_rules
from jobkit_lint.rule import Rule

__all__ = ["LintUnit", "ParseUnit", "WorkerPool", "paused_gc", "syntax_error"]


@dataclass(frozen=True)
class ParseUnit:
    """A file to parse and summarise; `check_only` only checks its syntax, and a tree is kept
    for the lint pass only when `keep` (files read just for the index are not linted)."""

    key: int
    path: str
    text: str
    module: str
    is_package: bool
    check_only: bool = False
    keep: bool = True


@dataclass(frozen=True)
class LintUnit:
    """A file to lint; `ignore` adds the file's per-file-ignores to the global ones."""

    parse: ParseUnit
    ignore: tuple[str, ...]


@dataclass(frozen=True)
class LintSettings:
    """What every lint unit shares."""

    select: tuple[str, ...]
    ignore: tuple[str, ...]
    warn_unused_ignores: bool


def syntax_error(path: str, text: str) -> Finding | None:
    """JK000 for a file the pre-filter spared from linting, or None when it parses.

    The built-in `compile()` is an order of magnitude cheaper than libcst (and, building no
    Python objects, four times cheaper than `ast.parse`) and accepts nearly every file. Only
    when it refuses one (syntax newer than the running Python, or a real error) does libcst
    decide, and its error is the one reported.
    """
    try:
        with warnings.catch_warnings():
            # Invalid escape sequences and the like warn at compile time; not our business.
            warnings.simplefilter("ignore")
            compile(text, path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return parse(path, text, module="", is_package=False).error
    return None


@lru_cache(maxsize=64)
def _rules(select: tuple[str, ...], ignore: tuple[str, ...]) -> tuple[type[Rule], ...]:
    return select_rules(select, ignore)


class _Worker:
    """The state one process holds between the two passes."""

    def __init__(self, *, free_trees: bool = True) -> None:
        self.trees: dict[int, ParsedModule] = {}
        # A forked pool process ends with os._exit(), which frees nothing: dropping its trees
        # one by one would only spend CPU on deallocating millions of nodes.
        self.free_trees = free_trees

    def parse(self, units: Sequence[ParseUnit]) -> list[tuple[int, dict[str, Any] | None, Any]]:
        results: list[tuple[int, dict[str, Any] | None, Any]] = []
        for unit in units:
            if unit.check_only:
                broken = syntax_error(unit.path, unit.text)
                results.append((unit.key, None, broken.to_dict() if broken else None))
                continue
            parsed = parse(unit.path, unit.text, module=unit.module, is_package=unit.is_package)
            if unit.keep:
                self.trees[unit.key] = parsed
            error = parsed.error.to_dict() if parsed.error else None
            results.append((unit.key, parsed.summary.to_dict(), error))
        return results

    def lint(
        self, index: ProjectIndex, settings: LintSettings, units: Sequence[LintUnit]
    ) -> list[tuple[int, list[dict[str, Any]]]]:
        results = []
        for unit in units:
            parsed = (self.trees.pop(unit.parse.key, None) if self.free_trees
                      else self.trees.get(unit.parse.key))
            if parsed is None:
                p = unit.parse
                parsed = parse(p.path, p.text, module=p.module, is_package=p.is_package)
            ignore = settings.ignore + unit.ignore
            rules = _rules(settings.select, ignore)
            try:
                findings = lint_parsed(parsed, index, rules, ignore=ignore,
                                       warn_unused_ignores=settings.warn_unused_ignores)
            except Exception as e:
                raise JobkitLintError(
                    f"internal error while linting {parsed.path}: {type(e).__name__}: {e}\n"
                    + traceback.format_exc()
                ) from e
            results.append((unit.parse.key, [f.to_dict() for f in findings]))
        return results


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while trees are held.

    libcst trees are acyclic, so reference counting frees them; but holding thousands of
    them makes every full collection rescan millions of objects, which costs more than the
    rules do.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _serve(conn: Connection) -> None:
    gc.disable()
    worker = _Worker(free_trees=False)
    while True:
        message = conn.recv()
        try:
            if message[0] == "parse":
                conn.send(("ok", worker.parse(message[1])))
            elif message[0] == "lint":
                conn.send(("ok", worker.lint(*message[1:])))
            else:
                return
        except Exception as e:
            conn.send(("error", f"{type(e).__name__}: {e}"))


class WorkerPool:
    """`jobs` processes (or none when `jobs == 1`), each owning the trees it parsed."""

    def __init__(self, jobs: int) -> None:
        self.jobs = max(1, jobs)
        self.local = _Worker()
        self.conns: list[Connection] = []
        self.processes: list[Any] = []
        self.owner: dict[int, int] = {}

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        for conn in self.conns:
            with contextlib.suppress(OSError):
                conn.send(("stop",))
        for process in self.processes:
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()

    def _start(self) -> None:
        if self.conns or self.jobs == 1:
            return
        methods = multiprocessing.get_all_start_methods()
        context: Any = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        for _ in range(self.jobs):
            parent, child = context.Pipe()
            process = context.Process(target=_serve, args=(child,), daemon=True)
            process.start()
            child.close()
            self.conns.append(parent)
            self.processes.append(process)

    def _shards(self, sizes: dict[int, int], pinned: dict[int, int]) -> list[list[int]]:
        shards: list[list[int]] = [[] for _ in range(self.jobs)]
        loads = [0] * self.jobs
        for key, worker in pinned.items():
            shards[worker].append(key)
            loads[worker] += sizes[key]
        # Largest first onto the least loaded worker keeps the slowest worker short.
        for key in sorted(set(sizes) - set(pinned), key=lambda k: -sizes[k]):
            worker = loads.index(min(loads))
            shards[worker].append(key)
            loads[worker] += sizes[key]
        return shards

    def _run(self, requests: list[tuple[Any, ...]]) -> list[Any]:
        results: list[Any] = []
        for conn, request in zip(self.conns, requests, strict=True):
            conn.send(request)
        for conn in self.conns:
            try:
                status, payload = conn.recv()
            except EOFError as e:
                raise JobkitLintError("a lint worker process died") from e
            if status != "ok":
                raise JobkitLintError(payload)
            results.extend(payload)
        return results

    def parse(self, units: Sequence[ParseUnit]) -> list[tuple[int, dict[str, Any] | None, Any]]:
        """Parse and summarise `units`, keeping trees for :meth:`lint`."""
        if self.jobs == 1 or len(units) < 2 * self.jobs:
            return self.local.parse(units)
        self._start()
        by_key = {u.key: u for u in units}
        shards = self._shards({u.key: len(u.text) for u in units}, {})
        for worker, shard in enumerate(shards):
            self.owner.update(dict.fromkeys(shard, worker))
        return self._run([("parse", [by_key[k] for k in shard]) for shard in shards])

    def lint(
        self, index: ProjectIndex, settings: LintSettings, units: Sequence[LintUnit]
    ) -> list[tuple[int, list[dict[str, Any]]]]:
        """Lint `units` on the workers that hold their trees."""
        held = {u.parse.key for u in units if u.parse.key in self.local.trees}
        rest = [u for u in units if u.parse.key not in held]
        if not self.conns and self.jobs > 1 and len(rest) >= 2 * self.jobs:
            self._start()
        if not self.conns:
            return self.local.lint(index, settings, units)
        local = [u for u in units if u.parse.key in held]
        results = self.local.lint(index, settings, local) if local else []
        remote = rest
        if not remote:
            return results
        by_key = {u.parse.key: u for u in remote}
        pinned = {k: self.owner[k] for k in by_key if k in self.owner}
        shards = self._shards({k: len(u.parse.text) for k, u in by_key.items()}, pinned)
        requests = [("lint", index, settings, [by_key[k] for k in shard]) for shard in shards]
        return results + self._run(requests)
