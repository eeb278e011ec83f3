"""`jobkit-lint` end to end: formats, exit codes, config, suppressions, cache and workers."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from jobkit_lint import all_rules, cache
from jobkit_lint.cli import main

from .helpers import FIXTURES, run_cli, write_tree

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


run = run_cli


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
    (finding,) = json.loads(out)
    fingerprint = finding.pop("fingerprint")
    assert finding == {
        "path": "app/tasks.py", "line": 13, "column": 16, "end_line": 13, "end_column": 21,
        "code": "JK101", "name": "model-argument",
        "message": "`order` is a model object passed as a job argument; pass its id instead",
    }
    assert len(fingerprint) == 20 and int(fingerprint, 16) >= 0


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
    by_id = {r["id"]: r for r in rules}
    assert by_id["JK101"]["helpUri"] == "https://pypi.org/project/jobkit/#jk101-model-argument"
    assert by_id["JK101"]["help"]["text"].startswith("Pass a record's id to a job")
    assert "```python" in by_id["JK101"]["help"]["markdown"]
    assert by_id["JK000"]["help"]["text"].startswith("The file could not be read")
    levels = {r["id"]: r["defaultConfiguration"]["level"] for r in rules}
    assert (levels["JK101"], levels["JK201"], levels["JK001"]) == ("error", "warning", "warning")
    fingerprints = run_["results"][1]["partialFingerprints"]
    assert list(fingerprints) == ["jobkitLint/v1"]


def test_configured_levels_reach_sarif_and_github_annotations(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "pyproject.toml").write_text(
        "[tool.jobkit-lint]\ndocs-url = 'https://example.com/lint'\n"
        "[tool.jobkit-lint.levels]\nJK1 = 'warning'\nJK101 = 'note'\n"
    )
    log = json.loads(run(capsys, "--no-cache", "--format", "sarif")[1])
    run_ = log["runs"][0]
    assert [r["level"] for r in run_["results"]] == ["note"]
    levels = {r["id"]: r["defaultConfiguration"]["level"] for r in run_["tool"]["driver"]["rules"]}
    assert (levels["JK101"], levels["JK102"], levels["JK402"]) == ("note", "warning", "error")
    assert run_["tool"]["driver"]["rules"][2]["helpUri"] == (
        "https://example.com/lint#jk101-model-argument"
    )
    code, out, _ = run(capsys, "--no-cache", "--format", "github")
    assert code == 1 and out.startswith("::notice file=app/tasks.py,line=13,")


@pytest.mark.parametrize(
    ("table", "message"),
    [("[tool.jobkit-lint.levels]\nJK101 = 'fatal'", "levels['JK101']='fatal' must be one of"),
     ("[tool.jobkit-lint.levels]\nJK9 = 'note'", "levels['JK9'] matches no rule code"),
     ("[tool.jobkit-lint]\nlevels = 'note'", "levels='note' must be a table"),
     ("[tool.jobkit-lint]\ndocs-url = 'docs/'", "docs-url='docs/' must be an http(s) URL")],
)
def test_bad_level_or_docs_url_is_a_usage_error_naming_it(
    project: Path, capsys: pytest.CaptureFixture[str], table: str, message: str
) -> None:
    (project / "pyproject.toml").write_text(table + "\n")
    code, _, err = run(capsys, "--no-cache")
    assert code == 2 and message in err


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


def test_list_rules_prints_every_code_with_a_real_message(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "--list-rules")
    assert code == 0
    lines = out.splitlines()
    assert [line.split()[:2] for line in lines][:4] == [
        ["JK000", "parse-error"], ["JK001", "unused-suppression"],
        ["JK101", "model-argument"], ["JK102", "unserializable-argument"],
    ]
    assert len(lines) == len(all_rules()) + 2
    for line in lines:
        assert "{" not in line and "}" not in line, line
    assert "`order` is a model object passed as a job argument; pass its id instead" in out
    assert "cannot parse: " in lines[0]


def test_explain_prints_the_docstring_and_examples(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--explain", "jk402")
    assert code == 0
    assert out.startswith("JK402 enqueue-in-transaction\n\nEnqueue after the commit")
    assert "Valid example 1:" in out and "Invalid example 3:" in out
    assert "    with session.begin():" in out


@pytest.mark.parametrize(
    ("key", "heading"),
    [("model-argument", "JK101 model-argument"), ("JK000", "JK000 parse-error"),
     ("parse-error", "JK000 parse-error"), ("jk001", "JK001 unused-suppression")],
)
def test_explain_accepts_codes_and_names_engine_codes_included(
    capsys: pytest.CaptureFixture[str], key: str, heading: str
) -> None:
    code, out, _ = run(capsys, "--explain", key)
    assert code == 0 and out.startswith(heading + "\n\n")
    assert "Invalid example 1:" in out


@pytest.mark.parametrize("key", ["JK777", "model-arguments"])
def test_explain_unknown_code_or_name_exits_two(
    capsys: pytest.CaptureFixture[str], key: str
) -> None:
    code, _, err = run(capsys, "--explain", key)
    assert code == 2 and repr(key) in err and "--list-rules" in err


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


def test_a_cache_written_by_other_linter_code_is_not_reused(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run(capsys, "--format", "json", "--stats")
    # Same version number, different rules: as after editing a checkout or upgrading libcst.
    monkeypatch.setattr(cache, "stamp", lambda: "3:other-code")
    again = run(capsys, "--format", "json", "--stats")
    assert "cached: 0" in again[2]
    assert json.loads((project / ".jobkit-lint-cache" / "cache.json").read_text())[
        "format"] == "3:other-code"


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


def test_named_path_is_linted_even_when_exclude_matches_it(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "pyproject.toml").write_text("[tool.jobkit-lint]\nexclude = ['app']\n")
    write_tree(project, {"app/legacy/old.py": FLAWED})
    assert run(capsys, "--no-cache")[1] == "No Python files were linted.\n"
    for named in ("app", "app/tasks.py", "app/legacy"):
        code, out, _ = run(capsys, "--no-cache", "--format", "json", named)
        paths = sorted({f["path"] for f in json.loads(out)})
        expected = {"app": ["app/legacy/old.py", "app/tasks.py"],
                    "app/tasks.py": ["app/tasks.py"], "app/legacy": ["app/legacy/old.py"]}
        assert (code, paths) == (1, expected[named]), named


def test_patterns_still_apply_below_a_named_directory(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "pyproject.toml").write_text("[tool.jobkit-lint]\nexclude = ['legacy']\n")
    write_tree(project, {"app/legacy/old.py": FLAWED})
    _, out, _ = run(capsys, "--no-cache", "--format", "json", "app")
    assert [f["path"] for f in json.loads(out)] == ["app/tasks.py"]


def test_force_exclude_skips_excluded_named_paths_as_pre_commit_needs(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "pyproject.toml").write_text("[tool.jobkit-lint]\nexclude = ['app/*.py']\n")
    write_tree(project, {"lib/ok.py": "x = 1\n"})
    code, out, err = run(capsys, "--no-cache", "--force-exclude", "app/tasks.py", "lib/ok.py")
    assert (code, out) == (0, "All clear.\n")
    code, out, err = run(capsys, "--no-cache", "--force-exclude", "app/tasks.py")
    assert (code, out) == (0, "No Python files were linted.\n")
    assert "no Python files to lint in app/tasks.py" in err


def test_pre_commit_hook_forces_exclusions() -> None:
    hooks = (Path(__file__).parents[2] / ".pre-commit-hooks.yaml").read_text()
    assert "entry: jobkit-lint --force-exclude" in hooks


def test_internal_error_exits_two_with_a_traceback(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from jobkit_lint.rules import model_argument

    def explode(self: object, facts: object) -> None:
        raise RuntimeError("rule exploded")

    monkeypatch.setattr(model_argument.ModelArgument, "check", explode)
    code, out, err = run(capsys, "--no-cache", "--jobs", "1")
    assert (code, out) == (2, "")
    assert "internal error while linting app/tasks.py: RuntimeError: rule exploded" in err


@pytest.mark.parametrize(
    ("pattern", "linted"),
    [("tasks.py", ["lib/deep/x.py", "lib/x.py"]), ("lib", ["app/tasks.py"]),
     ("lib/*", ["app/tasks.py"]), ("lib/deep", ["app/tasks.py", "lib/x.py"]),
     ("lib/*.py", ["app/tasks.py"]), ("x.py", ["app/tasks.py"])],  # fnmatch: * spans /
)
def test_exclude_globs_match_names_and_root_relative_paths(
    project: Path, capsys: pytest.CaptureFixture[str], pattern: str, linted: list[str]
) -> None:
    (project / "pyproject.toml").write_text(f"[tool.jobkit-lint]\nexclude = [{pattern!r}]\n")
    write_tree(project, {"lib/x.py": FLAWED, "lib/deep/x.py": FLAWED})
    _, out, _ = run(capsys, "--no-cache", "--format", "json")
    assert sorted({f["path"] for f in json.loads(out)}) == linted
