"""`# noqa: JK101` on a line and `# jobkit-lint: ignore[JK201]` on a class/def header."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from jobkit_lint.finding import UNUSED_SUPPRESSION, Finding
from jobkit_lint.positions import BlockLines

__all__ = ["Suppression", "apply_suppressions", "find_suppressions"]

_CODE = r"[A-Za-z]+[0-9]+"
_NOQA = re.compile(
    rf"#\s*noqa(?::[ \t]*(?P<codes>{_CODE}(?:[ \t]*,[ \t]*{_CODE})*))?", re.IGNORECASE
)
_ANY_NOQA = re.compile("noqa", re.IGNORECASE)
_BLOCK = re.compile(r"#\s*jobkit-lint:\s*ignore\[(?P<codes>[^\]]*)\]")


@dataclass
class Suppression:
    """One suppression comment; `codes` None means every code."""

    line: int
    first: int
    last: int
    codes: frozenset[str] | None
    text: str
    column: int = 1
    used: bool = field(default=False)

    def covers(self, finding: Finding) -> bool:
        """Whether this comment silences `finding`."""
        in_range = self.first <= finding.line <= self.last
        return in_range and (self.codes is None or finding.code in self.codes)


def _codes(raw: str | None) -> frozenset[str] | None:
    if not raw:
        return None
    return frozenset(c.strip().upper() for c in raw.split(",") if c.strip())


def find_suppressions(source: str, blocks: Sequence[BlockLines] = ()) -> list[Suppression]:
    """All suppression comments in `source`, with the line ranges they cover.

    `blocks` are the lines of every def and class, from libcst (see `PositionMap.blocks`).
    """
    found: list[Suppression] = []
    has_block = "jobkit-lint:" in source
    if _ANY_NOQA.search(source) is None and not has_block:
        return found
    lines = source.split("\n")
    for number, text in enumerate(lines, start=1):
        if "#" not in text:
            continue
        match = _NOQA.search(text)
        if match:
            found.append(Suppression(number, number, number, _codes(match["codes"]),
                                     match.group(0), match.start() + 1))
    if has_block:
        found.extend(_block_suppressions(blocks, lines))
    return found


def _block_suppressions(blocks: Sequence[BlockLines], lines: list[str]) -> list[Suppression]:
    found: list[Suppression] = []
    for block in blocks:
        for number in range(block.first, block.header_end + 1):
            match = _BLOCK.search(lines[number - 1])
            if match:
                found.append(Suppression(number, block.first, block.last,
                                         _codes(match["codes"]), match.group(0),
                                         match.start() + 1))
                break
    return found


def apply_suppressions(
    findings: list[Finding], suppressions: list[Suppression], *, path: str, warn_unused: bool
) -> list[Finding]:
    """Drop suppressed findings; with `warn_unused`, report comments that silenced nothing."""
    kept: list[Finding] = []
    for finding in findings:
        hits = [s for s in suppressions if s.covers(finding)]
        for suppression in hits:
            suppression.used = True
        if not hits:
            kept.append(finding)
    if warn_unused:
        code, name = UNUSED_SUPPRESSION
        for s in suppressions:
            # A bare noqa comment may be meant for another linter; only coded ones are ours.
            ours = s.codes is not None and any(c.startswith("JK") for c in s.codes)
            if not s.used and (ours or s.text.lstrip("# ").startswith("jobkit-lint")):
                kept.append(Finding(path, s.line, s.column, s.line, s.column + len(s.text), code,
                                    name, f"unused suppression `{s.text}`"))
    return kept

