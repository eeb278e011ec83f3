"""Rendering findings as text, JSON, GitHub Actions annotations or SARIF."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from jobkit_lint.config import Config
from jobkit_lint.finding import Finding

__all__ = ["FORMATS", "render"]

# GitHub workflow commands by level: https://docs.github.com/actions/reference/workflow-commands
_GITHUB_COMMANDS = {"error": "error", "warning": "warning", "note": "notice"}


def _text(findings: Sequence[Finding], config: Config, files: int | None) -> str:
    lines = [
        f"{f.path}:{f.line}:{f.column}: {f.code} {f.message} [{f.name}]" for f in findings
    ]
    count = len(findings)
    if count:
        lines.append(f"Found {count} finding{'s' if count != 1 else ''}.")
    elif files == 0:
        # "All clear" over nothing would hide a wrong path or an exclude that matches it all.
        lines.append("No Python files were linted.")
    else:
        lines.append("All clear.")
    return "\n".join(lines) + "\n"


def _json(findings: Sequence[Finding], config: Config, files: int | None) -> str:
    return json.dumps([f.to_dict() for f in findings], indent=2) + "\n"


def _escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")


def _github(findings: Sequence[Finding], config: Config, files: int | None) -> str:
    return "".join(
        f"::{_GITHUB_COMMANDS[config.level(f.code)]} file={_escape_property(f.path)},"
        f"line={f.line},col={f.column},endLine={f.end_line},endColumn={f.end_column},"
        f"title={_escape_property(f'{f.code} {f.name}')}::{_escape_data(f.message)}\n"
        for f in findings
    )


def _sarif(findings: Sequence[Finding], config: Config, files: int | None) -> str:
    from jobkit_lint.sarif import to_sarif

    return json.dumps(to_sarif(findings, config), indent=2) + "\n"


FORMATS: dict[str, Callable[[Sequence[Finding], Config, int | None], str]] = {
    "text": _text, "json": _json, "github": _github, "sarif": _sarif,
}


def render(
    findings: Sequence[Finding],
    output_format: str,
    *,
    config: Config | None = None,
    files: int | None = None,
) -> str:
    """Findings in the named format (`text`, `json`, `github` or `sarif`).

    `config` supplies the levels (SARIF, GitHub) and the docs URL; `files`, the number of
    files linted, lets the text summary tell a clean run from an empty one.
    """
    return FORMATS[output_format](findings, config or Config(), files)
