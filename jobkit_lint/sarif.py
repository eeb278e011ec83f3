"""SARIF 2.1.0 output, the format GitHub code scanning ingests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from jobkit_lint._version import __version__
from jobkit_lint.finding import PARSE_ERROR, UNUSED_SUPPRESSION, Finding
from jobkit_lint.registry import all_rules

__all__ = ["SARIF_SCHEMA", "to_sarif"]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def _descriptors() -> list[dict[str, Any]]:
    descriptors = [
        {
            "id": code,
            "name": name,
            "shortDescription": {"text": text},
            "defaultConfiguration": {"level": "error"},
        }
        for code, name, text in (
            (*PARSE_ERROR, "The file could not be read or parsed."),
            (*UNUSED_SUPPRESSION, "A suppression comment silenced nothing."),
        )
    ]
    for rule in all_rules():
        doc = (rule.__doc__ or "").strip()
        descriptors.append({
            "id": rule.CODE,
            "name": rule.NAME,
            "shortDescription": {"text": doc.splitlines()[0]},
            "fullDescription": {"text": " ".join(doc.split())},
            "help": {"text": doc},
            "defaultConfiguration": {"level": "error"},
        })
    return descriptors


def to_sarif(findings: Sequence[Finding]) -> dict[str, Any]:
    """A SARIF log with one run; artifact URIs are the relative POSIX paths reported."""
    rules = _descriptors()
    position = {d["id"]: i for i, d in enumerate(rules)}
    results = [
        {
            "ruleId": f.code,
            "ruleIndex": position[f.code],
            "level": "error",
            "message": {"text": f.message},
            "locations": [{
                "physicalLocation": {
                    "artifactLocation": {"uri": f.path},
                    "region": {
                        "startLine": f.line,
                        "startColumn": f.column,
                        "endLine": f.end_line,
                        "endColumn": max(f.end_column, 1),
                    },
                },
            }],
        }
        for f in findings
    ]
    return {
        "version": "2.1.0",
        "$schema": SARIF_SCHEMA,
        "runs": [{
            "tool": {"driver": {
                "name": "jobkit-lint",
                "version": __version__,
                "rules": rules,
            }},
            "results": results,
        }],
    }
