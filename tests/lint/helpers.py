"""Helpers shared by the jobkit-lint tests."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from jobkit_lint.cli import main

FIXTURES = Path(__file__).parent / "fixtures"


def write_tree(root: Path, files: dict[str, str]) -> Path:
    """Create `files` (relative path → dedented text) under `root` and return `root`."""
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`jobkit-lint ARGS` in-process: exit status, stdout and stderr."""
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err
