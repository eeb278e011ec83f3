"""Every declared minimum is the one CI proves: .ci/constraints-minimum.txt pins each
dependency of pyproject.toml (runtime and every extra) to exactly its ``>=`` bound."""

from __future__ import annotations

import sys
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


def _declared() -> dict[str, Version]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        requirements += [r for r in extra if not r.startswith("jobkit[")]
    minimums: dict[str, Version] = {}
    for text in requirements:
        req = Requirement(text)
        bounds = [Version(s.version) for s in req.specifier if s.operator == ">="]
        assert len(bounds) == 1, f"{text!r} must declare exactly one '>=' minimum"
        name = canonicalize_name(req.name)
        assert minimums.setdefault(name, bounds[0]) == bounds[0], (
            f"{req.name} is declared with two different minimums")
    return minimums


def _pinned() -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for line in (ROOT / ".ci" / "constraints-minimum.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        assert sep, f"constraints-minimum.txt: {line!r} must read name==version"
        pins[canonicalize_name(name.strip())] = Version(version.strip())
    return pins


def test_minimum_constraints_pin_every_declared_minimum() -> None:
    declared, pinned = _declared(), _pinned()
    assert {n: v for n, v in declared.items() if pinned.get(n) != v} == {}, (
        "pin each dependency to its declared minimum in .ci/constraints-minimum.txt")
    assert sorted(set(pinned) - set(declared)) == [], "pins for undeclared dependencies"
