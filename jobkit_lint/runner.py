"""`lint_paths`: discovery, the text pre-filter, the cache and the two passes over the tree."""

from __future__ import annotations

import hashlib
import io
import os
import time
import tokenize
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

from jobkit_lint._version import __version__
from jobkit_lint.cache import Cache
from jobkit_lint.config import Config, load_config
from jobkit_lint.discovery import discover, module_name, relative_label
from jobkit_lint.finding import PARSE_ERROR, Finding
from jobkit_lint.index import ProjectIndex
from jobkit_lint.prefilter import may_define, may_lint, may_suppress, mentions_job, names_pattern
from jobkit_lint.registry import code_enabled, select_rules
from jobkit_lint.summary import ModuleSummary
from jobkit_lint.workers import LintSettings, LintUnit, ParseUnit, WorkerPool, paused_gc

__all__ = ["LintReport", "LintStats", "lint_paths"]


@dataclass
class LintStats:
    """Counters for `--stats`: files linted, parsed by libcst, served from cache, skipped;
    `indexed` counts the other project files read only for the index."""

    files: int = 0
    parsed: int = 0
    skipped: int = 0
    cached: int = 0
    seconds: float = 0.0
    indexed: int = 0


@dataclass
class LintReport:
    """The findings of a run (iterate over it) and its statistics."""

    findings: list[Finding] = field(default_factory=list)
    stats: LintStats = field(default_factory=LintStats)

    def __iter__(self) -> Iterator[Finding]:
        return iter(self.findings)

    def __len__(self) -> int:
        return len(self.findings)


@dataclass
class _File:
    key: int
    path: Path
    label: str
    lint: bool = True
    text: str | None = None
    digest: str = ""
    module: str = ""
    is_package: bool = False
    summary: ModuleSummary | None = None
    error: Finding | None = None
    findings: list[Finding] | None = None
    # may_lint() without the job names, computed at most once: both passes need it.
    mentions_framework: bool | None = None

    def may_lint(self) -> bool:
        assert self.text is not None
        if self.mentions_framework is None:
            self.mentions_framework = may_lint(self.text)
        return self.mentions_framework

    def unit(self, *, check_only: bool = False) -> ParseUnit:
        assert self.text is not None
        return ParseUnit(self.key, self.label, self.text, self.module, self.is_package, check_only,
                         keep=self.lint)


def _read(file: _File) -> None:
    code, name = PARSE_ERROR
    try:
        data = file.path.read_bytes()
    except OSError as e:
        file.error = Finding(file.label, 1, 1, 1, 1, code, name, f"cannot read: {e.strerror}")
        return
    try:
        file.text = _decode(data)
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        message = f"cannot decode as {e.encoding}: byte {data[e.start]:#04x} at offset {e.start}"
        file.error = Finding(file.label, line, 1, line, 1, code, name, message)
        return
    except (SyntaxError, LookupError) as e:  # a malformed or unknown coding declaration
        file.error = Finding(file.label, 1, 1, 1, 1, code, name, f"cannot decode: {e}")
        return
    file.digest = hashlib.blake2b(data, digest_size=16).hexdigest()
    file.module, file.is_package = module_name(file.path)


def _decode(data: bytes) -> str:
    """The text as Python (and libcst) reads it: UTF-8 unless a PEP 263 coding line says
    otherwise; a byte-order mark is dropped, as libcst drops it."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        encoding, _lines = tokenize.detect_encoding(io.BytesIO(data).readline)
        if encoding == "utf-8":
            raise
        text = data.decode(encoding)
    return text[1:] if text.startswith("\ufeff") else text


def _file_ignores(config: Config, file: _File) -> tuple[str, ...]:
    absolute, base = os.path.abspath(file.path), str(config.root) + os.sep
    inside = absolute.startswith(base)
    relative = absolute[len(base):].replace(os.sep, "/") if inside else file.label
    codes: list[str] = []
    for glob, ignored in config.per_file_ignores:
        if fnmatch(relative, glob) or fnmatch(file.label, glob):
            codes.extend(ignored)
    return tuple(codes)


def _discover(
    roots: Sequence[Path], config: Config, *, force_exclude: bool
) -> list[_File]:
    """The files to lint, then the project's other files, which only feed the index.

    Indexing the whole project whatever paths are named makes linting one file report what
    linting the project reports: a model or job defined elsewhere is still known.
    """
    named = discover(roots, root=config.root, exclude=config.exclude,
                     force_exclude=force_exclude)
    files = [_File(key, path, relative_label(path)) for key, path in enumerate(named)]
    root = os.path.abspath(config.root)
    whole_project = all(os.path.abspath(r) == root for r in roots)
    if whole_project or not (config.root / "pyproject.toml").is_file():
        return files
    seen = {os.path.abspath(f.path) for f in files}
    for path in discover([config.root], root=config.root, exclude=config.exclude):
        if os.path.abspath(path) not in seen:
            files.append(_File(len(files), path, relative_label(path), lint=False))
    return files


def lint_paths(
    paths: Sequence[str | os.PathLike[str]] = (".",),
    *,
    config: Config | None = None,
    jobs: int | None = None,
    use_cache: bool = True,
    warn_unused_ignores: bool = False,
    force_exclude: bool = False,
) -> LintReport:
    """Lint files and directories as one project; a broken file is a JK000 finding.

    A named path is linted even if `exclude` matches it, unless `force_exclude`.
    """
    started = time.perf_counter()
    roots = [Path(p) for p in paths] or [Path(".")]
    config = config or load_config(roots[0])
    select_rules(config.select, config.ignore)  # fail fast on unknown codes
    for _glob, codes in config.per_file_ignores:
        select_rules((), codes)
    files = _discover(roots, config, force_exclude=force_exclude)
    linted = [f for f in files if f.lint]
    report = LintReport(stats=LintStats(files=len(linted), indexed=len(files) - len(linted)))
    cache = Cache(config.root, enabled=use_cache)
    entries: dict[int, dict[str, Any]] = {}
    to_parse: list[_File] = []
    to_check: list[_File] = []
    extra_bases = names_pattern(config.model_base_classes)
    for file in files:
        _read(file)
        if file.text is None:
            continue
        entry = cache.get(file.label, file.digest)
        if entry is not None:
            entries[file.key] = entry
            if entry.get("summary"):
                file.summary = ModuleSummary.from_dict(entry["summary"])
            if entry.get("error"):
                file.error = Finding.from_dict(entry["error"])
        elif may_define(file.text, extra_bases) or (file.lint and file.may_lint()):
            to_parse.append(file)
        elif file.lint:
            to_check.append(file)
    settings = LintSettings(config.select, config.ignore, warn_unused_ignores)
    with WorkerPool(jobs or os.cpu_count() or 1) as pool, paused_gc():
        by_key = {f.key: f for f in files}
        units_1 = [f.unit() for f in to_parse] + [f.unit(check_only=True) for f in to_check]
        for key, summary, error in pool.parse(units_1):
            by_key[key].summary = ModuleSummary.from_dict(summary) if summary else None
            by_key[key].error = Finding.from_dict(error) if error else None
        parsed_keys = {f.key for f in to_parse if f.lint}
        parsed_for_index = {f.key for f in to_parse if not f.lint}
        report.stats.parsed = len(parsed_keys)
        index = ProjectIndex([f.summary for f in files if f.summary], config)
        lint_key = hashlib.blake2b(
            f"{__version__}|{config.digest()}|{index.digest}|{warn_unused_ignores}".encode(),
            digest_size=16,
        ).hexdigest()
        names = frozenset(index.job_names())
        units: list[LintUnit] = []
        for file in linted:
            entry = entries.get(file.key)
            if file.text is None or file.error is not None:
                continue
            if entry is not None and entry.get("lint_key") == lint_key:
                file.findings = [Finding.from_dict(d) for d in entry["findings"]]
                report.stats.cached += 1
            elif file.may_lint() or mentions_job(file.text, names) or (
                    warn_unused_ignores and may_suppress(file.text)):
                units.append(LintUnit(file.unit(), _file_ignores(config, file)))
                report.stats.parsed += file.key not in parsed_keys
            else:
                file.findings = []
        for key, found in pool.lint(index, settings, units):
            by_key[key].findings = [Finding.from_dict(d) for d in found]
    for file in files:
        if file.lint and file.error is not None and code_enabled(file.error.code, config.ignore):
            report.findings.append(file.error)
        report.findings.extend(file.findings or [])
        # A file read only for the index is recorded once parsed (its summary and syntax are
        # then known), never as checked: it has not been linted.
        if cache.enabled and file.text is not None and (
                file.lint or file.key in parsed_for_index):
            cache.put(file.label, {
                "hash": file.digest,
                "summary": file.summary.to_dict() if file.summary else None,
                "error": file.error.to_dict() if file.error else None,
                # Files read only for the index were not linted: no findings to reuse.
                "lint_key": lint_key if file.lint else None,
                "findings": [f.to_dict() for f in file.findings or []],
            })
    cache.save()
    report.findings.sort()
    # Skipped: read (or served from cache for its summary) but never parsed by libcst this run.
    report.stats.skipped = report.stats.files - report.stats.parsed - report.stats.cached
    report.stats.seconds = time.perf_counter() - started
    return report
