"""README.md's jobkit-lint rules section is generated from the rule classes and must not drift."""

from __future__ import annotations

from pathlib import Path

from jobkit_lint.docs import BEGIN, END, render_rules, replace_section

DOC = Path(__file__).parents[2] / "README.md"


def test_rules_section_of_docs_matches_the_generated_markdown() -> None:
    text = DOC.read_text(encoding="utf-8")
    section = text.split(BEGIN, 1)[1].split(END, 1)[0]
    assert section == "\n" + render_rules(), (
        "README.md is out of date: run `python -m jobkit_lint.docs --write README.md`"
    )


def test_generated_section_holds_every_rule_with_its_examples() -> None:
    rendered = render_rules()
    for code in ("JK101", "JK102", "JK201", "JK202", "JK301", "JK402", "JK501"):
        assert f"#### {code} " in rendered
    assert rendered.count("```python") >= 14


def test_replace_section_keeps_the_text_around_the_markers() -> None:
    document = f"intro\n{BEGIN}\nold\n{END}\noutro\n"
    assert replace_section(document, "new\n") == f"intro\n{BEGIN}\nnew\n{END}\noutro\n"
