"""Helpers shared by the jobkit-lint tests."""

from __future__ import annotations

import textwrap
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"


def write_tree(root: Path, files: dict[str, str]) -> Path:
    """Create `files` (relative path → dedented text) under `root` and return `root`."""
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root
