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


def _relative(path: Path, root: Path) -> str:
    # abspath, not resolve(): one realpath syscall chain per file is measurable on big trees.
    absolute = os.path.abspath(path)
    base = str(root) + os.sep
    relative = absolute[len(base):] if absolute.startswith(base) else path.as_posix()
    return relative.replace(os.sep, "/")


def _matches(name: str, relative: str, pattern: str) -> bool:
    return (fnmatch(name, pattern) or fnmatch(relative, pattern)
            or fnmatch(relative, pattern.rstrip("/") + "/*"))


def _named_exclusions(path: Path, root: Path, patterns: Sequence[str]) -> set[str]:
    """The patterns (and default names) that exclude a named path or one of its folders."""
    absolute = os.path.abspath(path)
    if absolute == str(root):
        return set()
    relative = _relative(path, root)
    inside = absolute.startswith(str(root) + os.sep)
    parts = [p for p in relative.split("/") if p not in ("", ".")] if inside else [path.name]
    hits: set[str] = set()
    for depth in range(1, len(parts) + 1):
        name, prefix = parts[depth - 1], "/".join(parts[:depth]) if inside else relative
        if name in DEFAULT_EXCLUDE:
            hits.add(name)
        hits.update(p for p in patterns if _matches(name, prefix, p))
    return hits


def discover(
    paths: Sequence[Path], *, root: Path, exclude: Sequence[str], force_exclude: bool = False
) -> Iterator[Path]:
    """Python files under `paths`, sorted per directory.

    As in ruff, a path named here is linted even when `exclude` matches it (or a folder
    above it), and patterns still apply below it; `force_exclude` honours them for named
    paths too, for tools such as pre-commit that name every file.
    """
    patterns = tuple(exclude)
    root = root.resolve()
    for path in paths:
        if not path.exists():
            raise ConfigError(f"path {str(path)!r} does not exist")
        named = _named_exclusions(path, root, patterns)
        if named and force_exclude:
            continue
        if path.is_file():
            yield path
            continue
        active = tuple(p for p in patterns if p not in named)
        yield from _walk(path, root, active)


def _walk(top: Path, root: Path, patterns: tuple[str, ...]) -> Iterator[Path]:
    # Strings, not Path objects, per entry: a big tree has tens of thousands of them.
    for directory, dirnames, filenames in os.walk(top):
        at_root = os.path.abspath(directory) == str(root)
        base = _relative(Path(directory), root) + "/" if patterns and not at_root else ""
        dirnames[:] = sorted(
            d for d in dirnames
            if d not in DEFAULT_EXCLUDE
            and not any(_matches(d, base + d, p) for p in patterns)
        )
        for filename in sorted(filenames):
            if filename.endswith(".py") and filename not in DEFAULT_EXCLUDE and not any(
                _matches(filename, base + filename, p) for p in patterns
            ):
                yield Path(os.path.join(directory, filename))


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
