"""`jobkit-lint` end to end: formats, exit codes, config, suppressions, cache and workers."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from jobkit_lint.cli import main

from .helpers import FIXTURES, write_tree

SCHEMA = json.loads((Path(__file__).parent / "sarif-2.1.0-subset.schema.json").read_text())

FLAWED = """\
    from celery import shared_task

    from shop.models import Order


    @shared_task
    def ship(order_id):
        return order_id


    def checkout(order_id):
        order = Order.objects.get(id=order_id)
        ship.delay(order)
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project root with a pyproject.toml and one flawed module, as the working directory."""
    write_tree(tmp_path, {"pyproject.toml": "[project]\nname = 'demo'\n", "app/tasks.py": FLAWED})
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_findings_exit_one_and_print_path_line_column_code(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "--no-cache")
    assert code == 1
    assert out.splitlines()[0].startswith("app/tasks.py:13:16: JK101 `order` is a model object")
    assert out.splitlines()[-1] == "Found 1 finding."


def test_clean_tree_exits_zero(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "app" / "tasks.py").write_text("x = 1\n")
    assert run(capsys, "--no-cache") == (0, "All clear.\n", "")


def test_exit_zero_keeps_findings_but_succeeds(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "--no-cache", "--exit-zero")
    assert code == 0 and "JK101" in out


def test_json_format_lists_objects_with_position_code_name_and_message(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = run(capsys, "--no-cache", "--format", "json")
    assert json.loads(out) == [{
        "path": "app/tasks.py", "line": 13, "column": 16, "end_line": 13, "end_column": 21,
        "code": "JK101", "name": "model-argument",
        "message": "`order` is a model object passed as a job argument; pass its id instead",
    }]


def test_github_format_prints_error_annotations(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = run(capsys, "--no-cache", "--format", "github")
    assert out == (
        "::error file=app/tasks.py,line=13,col=16,endLine=13,endColumn=21,"
        "title=JK101 model-argument::`order` is a model object passed as a job argument; "
        "pass its id instead\n"
    )


def test_sarif_output_validates_against_the_sarif_schema(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "app" / "broken.py").write_text("def broken(:\n    pass\n")
    _, out, _ = run(capsys, "--no-cache", "--format", "sarif")
    log = json.loads(out)
    jsonschema.validate(log, SCHEMA, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    run_ = log["runs"][0]
    rules = run_["tool"]["driver"]["rules"]
    assert {r["id"] for r in rules} >= {"JK000", "JK101", "JK501"}
    assert [(r["ruleId"], rules[r["ruleIndex"]]["id"]) for r in run_["results"]] == [
        ("JK000", "JK000"), ("JK101", "JK101")
    ]
    location = run_["results"][1]["locations"][0]["physicalLocation"]
    assert location == {
        "artifactLocation": {"uri": "app/tasks.py"},
        "region": {"startLine": 13, "startColumn": 16, "endLine": 13, "endColumn": 21},
    }


def test_select_and_ignore_filter_by_code_prefix(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "--no-cache", "--select", "JK5")[0] == 0
    assert run(capsys, "--no-cache", "--ignore", "JK1")[0] == 0
    assert run(capsys, "--no-cache", "--select", "JK1,JK2")[0] == 1


def test_unknown_rule_code_is_a_usage_error(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "--select", "JK999")
    assert code == 2 and "JK999" in err


def test_bad_option_value_exits_two(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["--format", "xml"])
    assert raised.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_list_rules_prints_every_code_and_name(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--list-rules")
    assert code == 0
    assert [line.split()[:2] for line in out.splitlines()][:2] == [
        ["JK101", "model-argument"], ["JK102", "unserializable-argument"]
    ]


def test_explain_prints_the_docstring_and_examples(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--explain", "jk402")
    assert code == 0
    assert out.startswith("JK402 enqueue-in-transaction\n\nEnqueue after the commit")
    assert "Valid example 1:" in out and "Invalid example 3:" in out
    assert "    with session.begin():" in out


def test_explain_unknown_code_exits_two(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--explain", "JK777")
    assert code == 2 and "JK777" in err


def test_tree_with_broken_files_reports_jk000_and_lints_the_rest(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(FIXTURES / "broken", tmp_path / "broken")
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "--no-cache", "--format", "json", "broken")
    found = [(f["path"], f["line"], f["code"]) for f in json.loads(out)]
    assert code == 1
    assert found == [
        ("broken/latin1.py", 1, "JK000"),
        ("broken/syntax_error.py", 2, "JK000"),  # libcst's line
        ("broken/tasks.py", 13, "JK101"),
    ]


def test_unreadable_path_argument_is_a_usage_error(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "no-such-dir")
    assert code == 2 and "no-such-dir" in err


def test_warm_cache_run_returns_identical_findings(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cold = run(capsys, "--format", "json", "--stats")
    warm = run(capsys, "--format", "json", "--stats")
    assert cold[:2] == warm[:2]
    assert "cached: 0" in cold[2] and "cached: 1" in warm[2]
    assert (project / ".jobkit-lint-cache" / "cache.json").is_file()


def test_cache_is_invalidated_when_a_job_definition_moves_elsewhere(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_tree(project, {
        "app/actors.py": "import dramatiq\n\n@dramatiq.actor\ndef charge(x):\n    pass\n",
        "app/views.py": "from app.actors import charge\nfrom app.models import Sub\n\n"
                        "def view(sub: Sub):\n    charge.send(sub)\n",
    })
    first = json.loads(run(capsys, "--format", "json")[1])
    (project / "app" / "actors.py").write_text("def charge(x):\n    pass\n")
    second = json.loads(run(capsys, "--format", "json")[1])
    assert [f["path"] for f in first] == ["app/tasks.py", "app/views.py"]
    assert [f["path"] for f in second] == ["app/tasks.py"]


def test_two_worker_processes_find_what_one_finds(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # A copy, outside this repository, whose pyproject excludes the fixtures.
    shutil.copytree(FIXTURES, tmp_path / "fixtures")
    monkeypatch.chdir(tmp_path / "fixtures")
    serial = run(capsys, "--no-cache", "--format", "json", "--jobs", "1", ".")
    parallel = run(capsys, "--no-cache", "--format", "json", "--jobs", "2", ".")
    assert serial == parallel
    assert len(json.loads(serial[1])) >= 5


def test_console_script_runs_as_a_subprocess(project: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "jobkit_lint.cli", "--no-cache", "--format", "json", "."],
        capture_output=True, text=True, check=False, cwd=project,
    )
    assert done.returncode == 1
    assert [f["code"] for f in json.loads(done.stdout)] == ["JK101"]
