"""`lint_paths`: discovery, the text pre-filter, the cache and the two passes over the tree."""

from __future__ import annotations

import hashlib
import os
import time
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
from jobkit_lint.prefilter import may_define, may_lint, may_suppress, names_pattern
from jobkit_lint.registry import code_enabled, select_rules
from jobkit_lint.summary import ModuleSummary
from jobkit_lint.workers import LintSettings, LintUnit, ParseUnit, WorkerPool, paused_gc

__all__ = ["LintReport", "LintStats", "lint_paths"]


@dataclass
class LintStats:
    """Counters for `--stats`: files seen, parsed by libcst, served from cache, skipped."""

    files: int = 0
    parsed: int = 0
    skipped: int = 0
    cached: int = 0
    seconds: float = 0.0


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
    text: str | None = None
    digest: str = ""
    module: str = ""
    is_package: bool = False
    summary: ModuleSummary | None = None
    error: Finding | None = None
    findings: list[Finding] | None = None

    def unit(self, *, check_only: bool = False) -> ParseUnit:
        assert self.text is not None
        return ParseUnit(self.key, self.label, self.text, self.module, self.is_package, check_only)


def _read(file: _File) -> None:
    code, name = PARSE_ERROR
    try:
        data = file.path.read_bytes()
    except OSError as e:
        file.error = Finding(file.label, 1, 1, 1, 1, code, name, f"cannot read: {e.strerror}")
        return
    try:
        file.text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        message = f"not UTF-8: byte {data[e.start]:#04x} at offset {e.start}"
        file.error = Finding(file.label, line, 1, line, 1, code, name, message)
        return
    file.digest = hashlib.blake2b(data, digest_size=16).hexdigest()
    file.module, file.is_package = module_name(file.path)


def _file_ignores(config: Config, file: _File) -> tuple[str, ...]:
    absolute, base = os.path.abspath(file.path), str(config.root) + os.sep
    inside = absolute.startswith(base)
    relative = absolute[len(base):].replace(os.sep, "/") if inside else file.label
    codes: list[str] = []
    for glob, ignored in config.per_file_ignores:
        if fnmatch(relative, glob) or fnmatch(file.label, glob):
            codes.extend(ignored)
    return tuple(codes)


def lint_paths(
    paths: Sequence[str | os.PathLike[str]] = (".",),
    *,
    config: Config | None = None,
    jobs: int | None = None,
    use_cache: bool = True,
    warn_unused_ignores: bool = False,
) -> LintReport:
    """Lint files and directories as one project; a broken file is a JK000 finding."""
    started = time.perf_counter()
    roots = [Path(p) for p in paths] or [Path(".")]
    config = config or load_config(roots[0])
    select_rules(config.select, config.ignore)  # fail fast on unknown codes
    for _glob, codes in config.per_file_ignores:
        select_rules((), codes)
    files = [
        _File(key, path, relative_label(path))
        for key, path in enumerate(discover(roots, root=config.root, exclude=config.exclude))
    ]
    report = LintReport(stats=LintStats(files=len(files)))
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
        elif may_define(file.text, extra_bases) or may_lint(file.text):
            to_parse.append(file)
        else:
            to_check.append(file)
    settings = LintSettings(config.select, config.ignore, warn_unused_ignores)
    with WorkerPool(jobs or os.cpu_count() or 1) as pool, paused_gc():
        by_key = {f.key: f for f in files}
        units_1 = [f.unit() for f in to_parse] + [f.unit(check_only=True) for f in to_check]
        for key, summary, error in pool.parse(units_1):
            by_key[key].summary = ModuleSummary.from_dict(summary) if summary else None
            by_key[key].error = Finding.from_dict(error) if error else None
        report.stats.parsed = len(to_parse)
        parsed_keys = {f.key for f in to_parse}
        index = ProjectIndex([f.summary for f in files if f.summary], config)
        lint_key = hashlib.blake2b(
            f"{__version__}|{config.digest()}|{index.digest}|{warn_unused_ignores}".encode(),
            digest_size=16,
        ).hexdigest()
        names = frozenset(index.job_names())
        units: list[LintUnit] = []
        for file in files:
            entry = entries.get(file.key)
            if file.text is None or file.error is not None:
                continue
            if entry is not None and entry.get("lint_key") == lint_key:
                file.findings = [Finding.from_dict(d) for d in entry["findings"]]
                report.stats.cached += 1
            elif may_lint(file.text, names) or (warn_unused_ignores
                                                and may_suppress(file.text)):
                units.append(LintUnit(file.unit(), _file_ignores(config, file)))
                report.stats.parsed += file.key not in parsed_keys
            else:
                file.findings = []
        for key, found in pool.lint(index, settings, units):
            by_key[key].findings = [Finding.from_dict(d) for d in found]
    for file in files:
        if file.error is not None and code_enabled(file.error.code, config.ignore):
            report.findings.append(file.error)
        report.findings.extend(file.findings or [])
        if file.text is not None:
            cache.put(file.label, {
                "hash": file.digest,
                "summary": file.summary.to_dict() if file.summary else None,
                "error": file.error.to_dict() if file.error else None,
                "lint_key": lint_key,
                "findings": [f.to_dict() for f in file.findings or []],
            })
    cache.save()
    report.findings.sort()
    # Skipped: read (or served from cache for its summary) but never parsed by libcst this run.
    report.stats.skipped = report.stats.files - report.stats.parsed - report.stats.cached
    report.stats.seconds = time.perf_counter() - started
    return report
