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

__all__ = ["DEFAULT_EXCLUDE", "Config", "find_project_root", "load_config"]

DEFAULT_EXCLUDE = (
    ".git", ".hg", ".venv", "venv", ".tox", ".nox", "__pycache__", "build", "dist",
    "node_modules", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".jobkit-lint-cache",
)

_KEYS = {
    "select", "ignore", "exclude", "per-file-ignores", "model-modules", "model-base-classes",
    "read-only-databases", "transaction-managers",
}
# Database aliases (or parts of the expression naming them) that only serve reads.
DEFAULT_READ_ONLY_DATABASES = ("replica", "read_only", "readonly", "reader", "slave")


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
        )

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
