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
