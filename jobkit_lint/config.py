"""`[tool.jobkit-lint]` settings: a frozen dataclass read from the nearest pyproject.toml."""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from jobkit_lint.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the project runs on 3.11, tomli is the documented backport
    import tomli as tomllib

__all__ = ["DEFAULT_EXCLUDE", "LEVELS", "Config", "find_project_root", "load_config"]

DEFAULT_EXCLUDE = (
    ".git", ".hg", ".venv", "venv", ".tox", ".nox", "__pycache__", "build", "dist",
    "node_modules", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".jobkit-lint-cache",
)

_KEYS = {
    "select", "ignore", "exclude", "per-file-ignores", "model-modules", "model-base-classes",
    "read-only-databases", "transaction-managers", "levels", "docs-url",
}
# Database aliases (or parts of the expression naming them) that only serve reads.
DEFAULT_READ_ONLY_DATABASES = ("replica", "read_only", "readonly", "reader", "slave")
LEVELS = ("error", "warning", "note")
# How a finding is shown in SARIF and GitHub annotations (every finding still fails the run):
# design advice is a warning, what breaks at run time an error.
DEFAULT_LEVELS = (("JK001", "warning"), ("JK201", "warning"), ("JK202", "warning"))
DEFAULT_DOCS_URL = "https://pypi.org/project/jobkit/"


@dataclass(frozen=True)
class Config:
    """Resolved settings; `root` is the directory holding pyproject.toml (or the lint root)."""

    root: Path = field(default_factory=Path.cwd)
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    model_modules: tuple[str, ...] = ("models",)
    model_base_classes: tuple[str, ...] = ()
    read_only_databases: tuple[str, ...] = DEFAULT_READ_ONLY_DATABASES
    transaction_managers: tuple[str, ...] = ()
    levels: tuple[tuple[str, str], ...] = DEFAULT_LEVELS
    docs_url: str = DEFAULT_DOCS_URL

    @classmethod
    def from_mapping(cls, table: Mapping[str, Any], *, root: Path) -> Config:
        """Build a config from a `[tool.jobkit-lint]` table, rejecting unknown keys by name."""
        unknown = sorted(set(table) - _KEYS)
        if unknown:
            raise ConfigError(
                f"unknown key {unknown[0]!r} in [tool.jobkit-lint]; "
                f"expected one of {', '.join(sorted(_KEYS))}"
            )
        pfi = table.get("per-file-ignores", {})
        if not isinstance(pfi, Mapping):
            raise ConfigError(f"per-file-ignores={pfi!r} must be a table of glob = [codes]")
        docs_url = table.get("docs-url", DEFAULT_DOCS_URL)
        if not isinstance(docs_url, str) or not docs_url.startswith(("https://", "http://")):
            raise ConfigError(f"docs-url={docs_url!r} must be an http(s) URL")
        return cls(
            root=root,
            select=_strings(table, "select"),
            ignore=_strings(table, "ignore"),
            exclude=_strings(table, "exclude"),
            per_file_ignores=tuple(
                (str(glob), _string_list(codes, f"per-file-ignores[{glob!r}]"))
                for glob, codes in pfi.items()
            ),
            model_modules=_strings(table, "model-modules") or ("models",),
            model_base_classes=_strings(table, "model-base-classes"),
            read_only_databases=(
                _strings(table, "read-only-databases") if "read-only-databases" in table
                else DEFAULT_READ_ONLY_DATABASES
            ),
            transaction_managers=_strings(table, "transaction-managers"),
            levels=_levels(table.get("levels", {})),
            docs_url=docs_url,
        )

    def level(self, code: str) -> str:
        """The SARIF/annotation level of `code`: the longest matching configured prefix."""
        best, chosen = -1, "error"
        for prefix, level in self.levels:
            if code.startswith(prefix.upper()) and len(prefix) >= best:
                best, chosen = len(prefix), level
        return chosen

    def with_cli(self, *, select: Sequence[str] | None, ignore: Sequence[str] | None) -> Config:
        """Command-line `--select` replaces the configured selection; `--ignore` extends it."""
        return replace(
            self,
            select=tuple(select) if select else self.select,
            ignore=self.ignore + tuple(ignore or ()),
        )

    def digest(self) -> str:
        """A stable hash of everything that changes findings, for cache keys."""
        data = [self.select, self.ignore, self.per_file_ignores, self.model_modules,
                self.model_base_classes, self.read_only_databases, self.transaction_managers]
        return hashlib.blake2b(json.dumps(data).encode(), digest_size=12).hexdigest()


def _levels(table: object) -> tuple[tuple[str, str], ...]:
    if not isinstance(table, Mapping):
        raise ConfigError(f"levels={table!r} must be a table of code = level")
    for code, level in table.items():
        if level not in LEVELS:
            raise ConfigError(
                f"levels[{code!r}]={level!r} must be one of {', '.join(map(repr, LEVELS))}"
            )
    # Configured levels extend the defaults; a longer or equal prefix given here wins.
    return DEFAULT_LEVELS + tuple((str(code).upper(), str(level)) for code, level in table.items())


def _string_list(value: object, name: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, list) or not all(
        isinstance(v, str) for v in value
    ):
        raise ConfigError(f"{name}={value!r} must be a list of strings")
    return tuple(value)


def _strings(table: Mapping[str, Any], key: str) -> tuple[str, ...]:
    return _string_list(table[key], key) if key in table else ()


def find_project_root(start: Path) -> Path | None:
    """The nearest directory at or above `start` holding a pyproject.toml, if any."""
    start = start.resolve()
    for directory in (start, *start.parents) if start.is_dir() else start.parents:
        if (directory / "pyproject.toml").is_file():
            return directory
    return None


def load_config(start: Path | None = None) -> Config:
    """Read `[tool.jobkit-lint]` from the pyproject.toml nearest to `start` (default: cwd)."""
    start = start or Path.cwd()
    root = find_project_root(start)
    if root is None:
        base = start.resolve()
        return Config(root=base if base.is_dir() else base.parent)
    path = root / "pyproject.toml"
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"cannot read {path}: {e}") from e
    table = document.get("tool", {}).get("jobkit-lint", {})
    if not isinstance(table, Mapping):
        raise ConfigError(f"[tool.jobkit-lint] in {path} must be a table")
    return Config.from_mapping(table, root=root)
