"""SARIF 2.1.0 output, the format GitHub code scanning ingests."""

from __future__ import annotations

import inspect
import re
from collections.abc import Sequence
from typing import Any

from jobkit_lint._version import __version__
from jobkit_lint.config import Config
from jobkit_lint.explain import all_topics, rule_markdown
from jobkit_lint.finding import Finding

__all__ = ["SARIF_SCHEMA", "help_uri", "to_sarif"]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
# GitHub code scanning keeps an alert open across commits when this stays the same.
FINGERPRINT_KEY = "jobkitLint/v1"


def help_uri(config: Config, code: str, name: str) -> str:
    """The rule's section of the docs: the README heading `#### JK101 model-argument`."""
    anchor = re.sub(r"[^a-z0-9 -]", "", f"{code} {name}".lower()).replace(" ", "-")
    return f"{config.docs_url}#{anchor}"


def _descriptors(config: Config) -> list[dict[str, Any]]:
    descriptors = []
    for topic in all_topics():
        doc = inspect.cleandoc(topic.__doc__ or "")
        descriptors.append({
            "id": topic.CODE,
            "name": topic.NAME,
            "shortDescription": {"text": doc.splitlines()[0]},
            "fullDescription": {"text": " ".join(doc.split())},
            "help": {"text": doc, "markdown": rule_markdown(topic)},
            "helpUri": help_uri(config, topic.CODE, topic.NAME),
            "defaultConfiguration": {"level": config.level(topic.CODE)},
        })
    return descriptors


def to_sarif(findings: Sequence[Finding], config: Config | None = None) -> dict[str, Any]:
    """A SARIF log with one run; artifact URIs are the relative POSIX paths reported."""
    config = config or Config()
    rules = _descriptors(config)
    position = {d["id"]: i for i, d in enumerate(rules)}
    results = []
    for f in findings:
        result: dict[str, Any] = {
            "ruleId": f.code,
            "ruleIndex": position[f.code],
            "level": config.level(f.code),
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
        if f.fingerprint:
            result["partialFingerprints"] = {FINGERPRINT_KEY: f.fingerprint}
        results.append(result)
    return {
        "version": "2.1.0",
        "$schema": SARIF_SCHEMA,
        "runs": [{
            "tool": {"driver": {
                "name": "jobkit-lint",
                "version": __version__,
                "informationUri": config.docs_url,
                "rules": rules,
            }},
            "results": results,
        }],
    }
