"""The result record every output format renders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["PARSE_ERROR", "UNUSED_SUPPRESSION", "Finding"]

# Engine-owned codes: they are not rules, so they can neither be explained nor deselected by prefix.
PARSE_ERROR = ("JK000", "parse-error")
UNUSED_SUPPRESSION = ("JK001", "unused-suppression")


@dataclass(frozen=True, order=True)
class Finding:
    """One reported problem; lines and columns are 1-based, end positions inclusive of the line.

    `fingerprint` identifies it independently of its line (see `jobkit_lint.baseline`).
    """

    path: str
    line: int
    column: int
    end_line: int
    end_column: int
    code: str
    name: str
    message: str
    fingerprint: str = field(default="", compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object form used by `--format json` and the cache."""
        return {
            "path": self.path, "line": self.line, "column": self.column,
            "end_line": self.end_line, "end_column": self.end_column, "code": self.code,
            "name": self.name, "message": self.message, "fingerprint": self.fingerprint,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        """Rebuild a finding from :meth:`to_dict` output."""
        return cls(**data)
