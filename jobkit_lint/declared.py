"""The lowest version of a dependency a project declares (pyproject.toml, requirements files).

`--fix` only uses an API a dependency gained in some version (Celery 5.4's `delay_on_commit`)
when every version the project allows has it, so it needs the declared *floor*, not what
happens to be installed where the linter runs.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the project runs on 3.11, tomli is the documented backport
    import tomli as tomllib

__all__ = ["declared_floor", "declares"]

Version = tuple[int, ...]
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*)$")
# Operators whose version is a lower bound of what may be installed.
_FLOOR = re.compile(r"(===|==|~=|>=|\^|~|>)\s*v?(\d+(?:\.\d+)*)")


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _version(text: str) -> Version:
    return tuple(int(part) for part in text.split("."))


def _floor(specifier: str) -> Version | None:
    """The lowest version a specifier admits (`>=5.4,<6` → 5.4); None when unbounded below."""
    specifier = specifier.split(";", 1)[0]  # environment markers
    found = [_version(m.group(2)) for m in _FLOOR.finditer(specifier)]
    return max(found) if found else None


def _pyproject_requirements(path: Path) -> Iterator[tuple[str, str]]:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return
    project = document.get("project", {})
    lists: list[Any] = [project.get("dependencies", [])]
    lists.extend(project.get("optional-dependencies", {}).values())
    lists.extend(document.get("dependency-groups", {}).values())
    for entries in lists:
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, str) and (match := _REQUIREMENT.match(entry)):
                yield match.group(1), match.group(3)
    poetry = document.get("tool", {}).get("poetry", {})
    tables = [poetry.get("dependencies", {})]
    tables.extend(g.get("dependencies", {}) for g in poetry.get("group", {}).values())
    for table in tables:
        for name, spec in table.items():
            version = spec.get("version", "") if isinstance(spec, dict) else spec
            if isinstance(version, str):
                yield name, version


def _requirements_file(path: Path) -> Iterator[tuple[str, str]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-") and (match := _REQUIREMENT.match(line)):
            yield match.group(1), match.group(3)


def _declarations(root: Path) -> Iterator[tuple[str, str]]:
    yield from _pyproject_requirements(root / "pyproject.toml")
    files = [*root.glob("requirements*.txt"), *root.glob("requirements/*.txt")]
    for path in sorted(files):
        yield from _requirements_file(path)


def declared_floor(root: Path, package: str) -> Version | None:
    """The lowest version of `package` every declaration at `root` allows, or None when the
    project does not declare it or leaves it unbounded below somewhere."""
    wanted = _normal(package)
    floors = [_floor(spec) for name, spec in _declarations(root) if _normal(name) == wanted]
    if not floors or any(f is None for f in floors):
        return None
    # Several files (base and prod requirements) may pin it; the weakest floor decides.
    return min(f for f in floors if f is not None)


def declares(root: Path, package: str) -> bool:
    """Whether any declaration at `root` names `package`."""
    wanted = _normal(package)
    return any(_normal(name) == wanted for name, _spec in _declarations(root))
