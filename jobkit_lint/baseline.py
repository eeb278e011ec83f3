"""Baselines: record today's findings once, then fail CI only on new ones.

A finding is keyed by its path, its code and a fingerprint that does not contain a line
number: a hash of the names of the defs and classes around it, the whitespace-normalised
text of the innermost statement holding it (a compound statement's first line) and the
reported text. Moving code up or down a file, or editing other code, keeps the key; editing
the statement itself makes the finding new, which is the point. Identical keys (the same
statement twice in one function) are counted: with two recorded, a third is new.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from jobkit_lint.errors import ConfigError
from jobkit_lint.finding import Finding

__all__ = ["BASELINE_FORMAT", "apply_baseline", "fingerprint", "key", "read_baseline",
           "write_baseline"]

BASELINE_FORMAT = 1


def _normal(text: str) -> str:
    return " ".join(text.split())


def fingerprint(code: str, scope: Sequence[str], statement: str, reported: str) -> str:
    """The line-free identity of a finding (see the module docstring)."""
    data = "\0".join([code, ".".join(scope), _normal(statement), _normal(reported)])
    return hashlib.blake2b(data.encode("utf-8"), digest_size=10).hexdigest()


def key(finding: Finding, root: Path) -> tuple[str, str, str]:
    """(path from `root`, code, fingerprint); findings made without a tree (JK000, JK001) are
    fingerprinted by their message, which holds no line number."""
    print_ = finding.fingerprint or fingerprint(finding.code, (), "", finding.message)
    relative = os.path.relpath(os.path.abspath(finding.path), os.path.abspath(root))
    return relative.replace(os.sep, "/"), finding.code, print_


def write_baseline(path: Path, findings: Sequence[Finding], *, root: Path) -> None:
    """Record `findings` in `path` (sorted, one entry per key with a count), atomically;
    paths are stored relative to the project `root`, so any working directory reads it."""
    counts = Counter(key(f, root) for f in findings)
    first: dict[tuple[str, str, str], Finding] = {}
    for finding in findings:
        first.setdefault(key(finding, root), finding)
    entries = [
        {"path": p, "code": c, "fingerprint": fp, "count": n,
         # For the reader of a diff only; never compared.
         "line": first[(p, c, fp)].line, "message": first[(p, c, fp)].message}
        for (p, c, fp), n in sorted(counts.items())
    ]
    document = {"jobkit-lint-baseline": BASELINE_FORMAT, "findings": entries}
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, temporary = tempfile.mkstemp(dir=directory, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2)
            handle.write("\n")
        os.replace(temporary, path)
    except OSError as e:
        raise ConfigError(f"cannot write baseline {str(path)!r}: {e.strerror}") from e


def read_baseline(path: Path) -> Counter[tuple[str, str, str]]:
    """The recorded keys and their counts; a missing or malformed file names itself."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"cannot read baseline {str(path)!r}: {e.strerror}") from e
    except ValueError as e:
        raise ConfigError(f"baseline {str(path)!r} is not JSON: {e}") from e
    if not isinstance(document, dict) or document.get("jobkit-lint-baseline") != BASELINE_FORMAT:
        raise ConfigError(
            f"baseline {str(path)!r} is not a jobkit-lint baseline (format {BASELINE_FORMAT}); "
            "write one with --write-baseline"
        )
    counts: Counter[tuple[str, str, str]] = Counter()
    for number, entry in enumerate(document.get("findings", [])):
        try:
            counts[(entry["path"], entry["code"], entry["fingerprint"])] += int(entry["count"])
        except (TypeError, KeyError, ValueError) as e:
            raise ConfigError(
                f"baseline {str(path)!r}: entry {number} needs path, code, fingerprint and "
                f"count ({type(e).__name__}: {e})"
            ) from e
    return counts


def apply_baseline(
    findings: Sequence[Finding], recorded: Counter[tuple[str, str, str]], *, root: Path
) -> tuple[list[Finding], int]:
    """The findings not covered by `recorded`, and how many were covered."""
    left = Counter(recorded)
    new: list[Finding] = []
    for finding in findings:
        k = key(finding, root)
        if left[k] > 0:
            left[k] -= 1
        else:
            new.append(finding)
    return new, len(findings) - len(new)
