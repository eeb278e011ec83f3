"""Rendering findings as text, JSON or GitHub Actions annotations."""

from __future__ import annotations

import json
from collections.abc import Sequence

from jobkit_lint.finding import Finding

__all__ = ["FORMATS", "render"]


def _text(findings: Sequence[Finding]) -> str:
    lines = [
        f"{f.path}:{f.line}:{f.column}: {f.code} {f.message} [{f.name}]" for f in findings
    ]
    count = len(findings)
    lines.append(f"Found {count} finding{'s' if count != 1 else ''}." if count else "All clear.")
    return "\n".join(lines) + "\n"


def _json(findings: Sequence[Finding]) -> str:
    return json.dumps([f.to_dict() for f in findings], indent=2) + "\n"


def _escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")


def _github(findings: Sequence[Finding]) -> str:
    # Workflow-command syntax: https://docs.github.com/actions/reference/workflow-commands
    return "".join(
        f"::error file={_escape_property(f.path)},line={f.line},col={f.column},"
        f"endLine={f.end_line},endColumn={f.end_column},"
        f"title={_escape_property(f'{f.code} {f.name}')}::{_escape_data(f.message)}\n"
        for f in findings
    )


def _sarif(findings: Sequence[Finding]) -> str:
    from jobkit_lint.sarif import to_sarif

    return json.dumps(to_sarif(findings), indent=2) + "\n"


FORMATS = {"text": _text, "json": _json, "github": _github, "sarif": _sarif}


def render(findings: Sequence[Finding], output_format: str) -> str:
    """Findings in the named format (`text`, `json`, `github` or `sarif`)."""
    return FORMATS[output_format](findings)
