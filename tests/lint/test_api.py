"""The public Python API: `lint_paths`, `lint_source` and the curated `__all__`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import jobkit_lint
from jobkit_lint import Config, Finding, LintReport, lint_paths, lint_source

from .helpers import write_tree


def test_all_lists_exactly_the_public_names_and_each_resolves() -> None:
    assert sorted(jobkit_lint.__all__) == jobkit_lint.__all__
    for name in jobkit_lint.__all__:
        assert getattr(jobkit_lint, name) is not None


def test_lint_source_returns_findings_for_a_single_module() -> None:
    (finding,) = lint_source("from app.tasks import t\nt.delay({1, 2})\n")
    assert isinstance(finding, Finding)
    assert (finding.code, finding.line, finding.column) == ("JK102", 2, 9)


def test_parse_failure_is_a_finding_not_an_exception() -> None:
    (finding,) = lint_source("def broken(:\n")
    assert (finding.code, finding.name) == ("JK000", "parse-error")


def test_lint_paths_report_is_iterable_and_counts_files(tmp_path: Path) -> None:
    write_tree(tmp_path, {"a.py": "from t import job\njob.delay({1})\n", "b.py": "x = 1\n"})
    report = lint_paths([tmp_path], config=Config(root=tmp_path), jobs=1, use_cache=False)
    assert isinstance(report, LintReport)
    assert [f.code for f in report] == ["JK102"]
    assert (report.stats.files, report.stats.parsed, report.stats.skipped) == (2, 1, 1)


def test_lint_paths_rejects_an_unknown_selected_code(tmp_path: Path) -> None:
    with pytest.raises(jobkit_lint.UnknownRuleError, match="JK9"):
        lint_paths([tmp_path], config=Config(root=tmp_path, select=("JK9",)))


def test_importing_jobkit_lint_does_not_import_the_jobkit_runtime() -> None:
    code = "import sys, jobkit_lint; print('jobkit' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "False"


def test_one_file_alone_reports_what_the_project_run_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `Order` is defined in a module not named `models`: only the project index knows it.
    write_tree(tmp_path, {
        "pyproject.toml": "",
        "app/__init__.py": "",
        "app/records.py": "from django.db import models\n\nclass Order(models.Model):\n"
                          "    pass\n",
        "app/tasks.py": "from celery import shared_task\n\n@shared_task\ndef ship(order_id):\n"
                        "    pass\n",
        "app/views.py": "from app.records import Order\nfrom app.tasks import ship\n\n"
                        "def view(request):\n    ship.delay(Order(id=1))\n",
    })
    monkeypatch.chdir(tmp_path)
    whole = lint_paths(["."], use_cache=False, jobs=1)
    alone = lint_paths(["app/views.py"], use_cache=False, jobs=1)
    assert [(f.path, f.line, f.code) for f in whole] == [("app/views.py", 5, "JK101")]
    assert alone.findings == whole.findings
    assert (alone.stats.files, alone.stats.indexed) == (1, 3)


def test_files_read_only_for_the_index_report_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_tree(tmp_path, {
        "pyproject.toml": "",
        "broken.py": "def broken(:\n",
        "other.py": "from t import job\njob.delay({1})\n",
        "ok.py": "x = 1\n",
    })
    monkeypatch.chdir(tmp_path)
    assert lint_paths(["ok.py"], jobs=1).findings == []
    # The cache kept the other files' summaries but no findings for them: they are linted now.
    assert [f.code for f in lint_paths(["."], jobs=1)] == ["JK000", "JK102"]


def test_a_coding_declaration_is_honoured_and_a_byte_order_mark_dropped(
    tmp_path: Path,
) -> None:
    (tmp_path / "latin.py").write_bytes(
        b"# -*- coding: latin-1 -*-\nfrom t import job\n\n\ndef f():\n"
        b"    job.delay({'caf\xe9'})\n"
    )
    (tmp_path / "bom.py").write_bytes(b"\xef\xbb\xbffrom t import job\njob.delay({1})\n")
    (tmp_path / "bad.py").write_bytes(b"x = 1\ny = '\xe9'\n")
    report = lint_paths([tmp_path], config=Config(root=tmp_path), jobs=1, use_cache=False)
    found = [(Path(f.path).name, f.line, f.column, f.code) for f in report]
    assert found == [("bad.py", 2, 1, "JK000"), ("bom.py", 2, 11, "JK102"),
                     ("latin.py", 6, 15, "JK102")]
    assert report.findings[0].message == "cannot decode as utf-8: byte 0xe9 at offset 11"
