"""The jobkit_pytest examples in README.md run, so the docs cannot drift from the plugin."""

from __future__ import annotations

import re
from pathlib import Path

from tests.plugin.helpers import Inner

DOCS = Path(__file__).resolve().parents[2] / "README.md"
BLOCK = re.compile(r"```python\n# file: (?P<name>\S+)\n(?P<body>.*?)```", re.S)


def doc_files() -> dict[str, str]:
    """Every ```python block whose first line is ``# file: NAME``, by NAME."""
    blocks = BLOCK.finditer(DOCS.read_text())
    return {m["name"]: f"# file: {m['name']}\n{m['body']}" for m in blocks}


def test_the_docs_contain_an_app_and_its_tests() -> None:
    files = doc_files()
    assert "shop.py" in files and any(name.startswith("test_") for name in files)


def test_the_documented_examples_pass(inner: Inner) -> None:
    files = doc_files()
    for name, source in files.items():
        (inner.pytester.path / name).write_text(source)
    tests = sum(source.count("\ndef test_") for name, source in files.items() if "test_" in name)
    result = inner.runpytest()
    result.assert_outcomes(passed=tests)
