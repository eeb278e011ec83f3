"""`--write-baseline` and `--baseline`: only findings not recorded fail the run."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from .helpers import run_cli, write_tree

VIEWS = """\
    from shop.models import Order
    from shop.tasks import ship


    def checkout(order: Order):
        ship.delay(order)


    def refund(order: Order):
        ship.delay(order)
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    write_tree(tmp_path, {"pyproject.toml": "", "shop/views.py": VIEWS})
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    return run_cli(capsys, "--no-cache", *args)


def edit(project: Path, text: str) -> None:
    (project / "shop" / "views.py").write_text(textwrap.dedent(text))


def test_written_baseline_silences_todays_findings(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "--write-baseline", "baseline.json")
    assert (code, out) == (0, "") and "recorded 2 findings in baseline.json" in err
    document = json.loads((project / "baseline.json").read_text())
    assert document["jobkit-lint-baseline"] == 1
    assert [(e["path"], e["code"], e["count"]) for e in document["findings"]] == [
        ("shop/views.py", "JK101", 1), ("shop/views.py", "JK101", 1)
    ]
    code, out, err = run(capsys, "--baseline", "baseline.json", "--stats")
    assert (code, out) == (0, "All clear.\n") and "in the baseline: 2" in err


def test_moving_code_up_or_down_does_not_resurface_a_finding(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "--write-baseline", "baseline.json")
    # The two functions swap places and move down under new code and comments.
    edit(project, """\
        from shop.models import Order
        from shop.tasks import ship

        RETRIES = 3


        def refund(order: Order):
            # Refunds first now.
            ship.delay(order)


        def helper():
            return RETRIES


        def checkout(order: Order):
            ship.delay(order)
    """)
    assert run(capsys, "--baseline", "baseline.json")[:2] == (0, "All clear.\n")


def test_a_new_finding_fails_and_only_it_is_reported(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "--write-baseline", "baseline.json")
    edit(project, VIEWS + """\

        def cancel(order: Order):
            ship.delay(order)


        def refund_twice(order: Order):
            ship.delay(order)
            ship.delay(order)
    """)
    code, out, _ = run(capsys, "--baseline", "baseline.json", "--format", "json")
    assert code == 1
    assert [f["line"] for f in json.loads(out)] == [13, 17, 18]


def test_a_repeated_statement_beyond_the_recorded_count_is_new(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "--write-baseline", "baseline.json")
    edit(project, VIEWS.replace("def refund(order: Order):\n        ship.delay(order)",
                                "def refund(order: Order):\n        ship.delay(order)\n"
                                "        ship.delay(order)"))
    code, out, _ = run(capsys, "--baseline", "baseline.json", "--format", "json")
    assert (code, [f["line"] for f in json.loads(out)]) == (1, [11])


def test_editing_the_flagged_statement_makes_it_new(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "--write-baseline", "baseline.json")
    edit(project, VIEWS.replace("def refund(order: Order):\n        ship.delay(order)",
                                "def refund(order: Order):\n        ship.delay(order, 1)"))
    code, out, _ = run(capsys, "--baseline", "baseline.json", "--format", "json")
    assert (code, [f["line"] for f in json.loads(out)]) == (1, [10])


def test_baseline_is_read_from_any_working_directory(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run(capsys, "--write-baseline", "baseline.json")
    monkeypatch.chdir(project / "shop")
    code, out, _ = run(capsys, "--baseline", "../baseline.json", ".")
    assert (code, out) == (0, "All clear.\n")


def test_parse_errors_are_recorded_by_message_not_line(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "shop" / "broken.py").write_text("def broken(:\n    pass\n")
    run(capsys, "--write-baseline", "baseline.json")
    (project / "shop" / "broken.py").write_text("\n\n\ndef broken(:\n    pass\n")
    assert run(capsys, "--baseline", "baseline.json")[0] == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "cannot read baseline 'baseline.json'"),
     ("{", "baseline 'baseline.json' is not JSON"),
     ('{"findings": []}', "is not a jobkit-lint baseline"),
     ('{"jobkit-lint-baseline": 1, "findings": [{"path": "x"}]}', "entry 0 needs path")],
)
def test_unreadable_or_malformed_baseline_exits_two_naming_the_file(
    project: Path, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    if content is not None:
        (project / "baseline.json").write_text(content)
    code, out, err = run(capsys, "--baseline", "baseline.json")
    assert (code, out) == (2, "") and message in err


def test_unwritable_baseline_exits_two(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "--write-baseline", "missing-dir/baseline.json")
    assert code == 2 and "cannot write baseline 'missing-dir/baseline.json'" in err
