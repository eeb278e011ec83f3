"""Finding the Python files to lint and naming their modules."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from fnmatch import fnmatch
from functools import lru_cache
from pathlib import Path

from jobkit_lint.config import DEFAULT_EXCLUDE
from jobkit_lint.errors import ConfigError

__all__ = ["discover", "module_name", "relative_label"]


def _excluded(path: Path, root: Path, patterns: Sequence[str]) -> bool:
    if path.name in DEFAULT_EXCLUDE:
        return True
    if not patterns:
        return False
    # abspath, not resolve(): one realpath syscall chain per file is measurable on big trees.
    absolute = os.path.abspath(path)
    base = str(root) + os.sep
    relative = absolute[len(base):] if absolute.startswith(base) else path.as_posix()
    relative = relative.replace(os.sep, "/")
    return any(
        fnmatch(path.name, p) or fnmatch(relative, p) or fnmatch(relative, p.rstrip("/") + "/*")
        for p in patterns
    )


def discover(paths: Sequence[Path], *, root: Path, exclude: Sequence[str]) -> Iterator[Path]:
    """Python files under `paths`, sorted per directory; explicit file arguments always count."""
    patterns = tuple(exclude)
    root = root.resolve()
    for path in paths:
        if path.is_file():
            yield path
            continue
        if not path.exists():
            raise ConfigError(f"path {str(path)!r} does not exist")
        for directory, dirnames, filenames in os.walk(path):
            current = Path(directory)
            dirnames[:] = sorted(
                d for d in dirnames if not _excluded(current / d, root, patterns)
            )
            for filename in sorted(filenames):
                candidate = current / filename
                if filename.endswith(".py") and not _excluded(candidate, root, patterns):
                    yield candidate


def module_name(path: Path) -> tuple[str, bool]:
    """Dotted module name from the enclosing packages (`__init__.py` chain) and is-package."""
    absolute = os.path.abspath(path)
    directory, filename = os.path.split(absolute)
    is_package = filename == "__init__.py"
    package = _package_of(directory)
    if is_package:
        return package, True
    stem = filename[:-3] if filename.endswith(".py") else filename
    return (f"{package}.{stem}" if package else stem), False


@lru_cache(maxsize=4096)
def _package_of(directory: str) -> str:
    # Cached per directory: a tree of thousands of files has only a few hundred directories.
    if not os.path.isfile(os.path.join(directory, "__init__.py")):
        return ""
    parent, name = os.path.split(directory)
    outer = _package_of(parent) if parent != directory else ""
    return f"{outer}.{name}" if outer else name


def relative_label(path: Path) -> str:
    """The path as reported: relative to the working directory when below it, POSIX style."""
    absolute = os.path.abspath(path)
    base = os.getcwd() + os.sep
    relative = absolute[len(base):] if absolute.startswith(base) else str(path)
    return relative.replace(os.sep, "/")
