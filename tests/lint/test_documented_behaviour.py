"""What README.md promises about `jobkit-lint`, each checked so that it fails when the
promise breaks: `--warn-unused-ignores` on the command line, `--no-cache` writing nothing,
the default excludes, exit code 2 on an internal error, the built-in model bases (peewee,
SQLAlchemy `DeclarativeBase`, Flask-SQLAlchemy), block ignores on a decorator line and the
`[name]` suffix of the text format."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest

import jobkit_lint.cli
from jobkit_lint import lint_source
from jobkit_lint.cli import main

from .helpers import write_tree

#: A jobkit job enqueued with a model object: JK101 at line 10, column 34.
FLAWED = """\
    import jobkit
    from shop.models import Invoice


    class MailInvoiceJob(jobkit.Job):
        def perform(self, invoice_id): ...


    def close_month(invoice: Invoice):
        MailInvoiceJob.perform_async(invoice)
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The working directory, a project root (it has a pyproject.toml)."""
    monkeypatch.chdir(write_tree(tmp_path, {"pyproject.toml": "[project]\nname = 'demo'\n"}))
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``jobkit-lint ARGS`` in-process: exit code, stdout, stderr."""
    return (main(list(args)), *capsys.readouterr())


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


# -- command line --------------------------------------------------------------------------


def test_warn_unused_ignores_on_the_command_line_reports_jk001(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_tree(project, {
        "app/tasks.py": """\
            from celery import shared_task


            @shared_task
            def ship(order_id):
                return order_id  # noqa: JK101
        """,
        # No job code (nor the word "jobkit"): the pre-filter must still see the suppression.
        "app/util.py": "def total():\n    return 2  # noqa: JK102\n",
    })
    code, out, _ = run(capsys, "--no-cache")
    assert code == 0 and "JK001" not in out
    code, out, _ = run(capsys, "--no-cache", "--warn-unused-ignores")
    assert code == 1
    assert out.splitlines() == [
        "app/tasks.py:6:22: JK001 unused suppression `# noqa: JK101` [unused-suppression]",
        "app/util.py:2:15: JK001 unused suppression `# noqa: JK102` [unused-suppression]",
        "Found 2 findings.",
    ]


def test_no_cache_writes_nothing(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_tree(project, {"app/tasks.py": FLAWED})
    before = _tree(project)
    code, out, _ = run(capsys, "--no-cache")
    assert code == 1 and "JK101" in out
    assert _tree(project) == before
    # Without the flag the same run does write its cache: the check above can tell.
    run(capsys)
    assert (project / ".jobkit-lint-cache").is_dir()


#: The directories README.md says are always excluded ("added to .git, .venv, build, …").
DOCUMENTED_EXCLUDES = (
    ".git", ".hg", ".venv", "venv", ".tox", ".nox", "__pycache__", "build", "dist",
    "node_modules", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".jobkit-lint-cache",
)


def test_the_default_excludes_are_never_linted(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = {f"{name}/pkg/tasks.py": FLAWED for name in DOCUMENTED_EXCLUDES}
    files["app/tasks.py"] = FLAWED
    write_tree(project, files)
    code, out, _ = run(capsys, "--no-cache", "--format", "json")
    assert code == 1
    paths = sorted({f["path"] for f in json.loads(out)})
    assert paths == ["app/tasks.py"]


def test_an_internal_error_exits_two_with_its_traceback(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_tree(project, {"app/tasks.py": FLAWED})

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug in the engine")

    monkeypatch.setattr(jobkit_lint.cli, "lint_paths", broken)
    code, out, err = run(capsys, "--no-cache")
    assert (code, out) == (2, "")
    assert err.startswith("jobkit-lint: internal error\n")
    assert "RuntimeError: a bug in the engine" in err


def test_a_bad_configuration_exits_two_naming_the_key(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_tree(project, {"pyproject.toml": "[tool.jobkit-lint]\nselekt = ['JK1']\n",
                         "app/tasks.py": FLAWED})
    code, out, err = run(capsys, "--no-cache")
    assert (code, out) == (2, "")
    assert err.startswith("jobkit-lint: error: ") and "selekt" in err


def test_the_text_format_ends_each_finding_with_the_rule_name(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_tree(project, {"app/tasks.py": FLAWED})
    code, out, _ = run(capsys, "--no-cache")
    first, *_, last = out.splitlines()
    assert code == 1
    assert re.fullmatch(r"app/tasks\.py:10:34: JK101 `invoice` is a model object .* "
                        r"\[model-argument\]", first), first
    assert last == "Found 1 finding."


# -- built-in model bases ------------------------------------------------------------------

#: Each defines ``Order`` outside a ``models`` module, so only its base makes it a model.
MODEL_BASES = {
    "peewee": """
        from peewee import Model

        class Order(Model):
            pass
    """,
    "sqlalchemy-declarative-base": """
        from sqlalchemy.orm import DeclarativeBase

        class Base(DeclarativeBase):
            pass

        class Order(Base):
            pass
    """,
    "flask-sqlalchemy": """
        from flask_sqlalchemy import SQLAlchemy

        db = SQLAlchemy()

        class Order(db.Model):
            pass
    """,
}

USE = """
    from celery import shared_task

    @shared_task
    def ship(order_id):
        return order_id

    def checkout(order: Order):
        ship.delay(order)
"""


@pytest.mark.parametrize("kind", sorted(MODEL_BASES))
def test_built_in_model_bases_make_a_class_a_model(kind: str) -> None:
    source = textwrap.dedent(MODEL_BASES[kind]) + textwrap.dedent(USE)
    codes = [f.code for f in lint_source(source, path="app/records.py")]
    assert codes == ["JK101"], (kind, codes)


def test_a_class_with_an_unknown_base_is_not_a_model() -> None:
    source = textwrap.dedent("""
        from shop.base import Record

        class Order(Record):
            pass
    """) + textwrap.dedent(USE)
    assert [f.code for f in lint_source(source, path="app/records.py")] == []


# -- block ignores on a decorator line -----------------------------------------------------

SWALLOWING = """\
from celery import shared_task


@shared_task{comment}
@retry_later
def sync(order_id):
    try:
        push(order_id)
    except Exception:
        return None
"""


@pytest.mark.parametrize("line", [3, 4], ids=["first-decorator", "second-decorator"])
def test_a_block_ignore_on_a_decorator_line_covers_the_body(line: int) -> None:
    lines = SWALLOWING.format(comment="").splitlines()
    assert [f.code for f in lint_source("\n".join(lines) + "\n", path="t.py")] == ["JK301"]
    lines[line] += "  # jobkit-lint: ignore[JK301]"
    assert [f.code for f in lint_source("\n".join(lines) + "\n", path="t.py")] == []


def test_a_block_ignore_on_a_decorator_line_silences_only_its_codes() -> None:
    source = SWALLOWING.format(comment="  # jobkit-lint: ignore[JK101]")
    assert [f.code for f in lint_source(source, path="t.py")] == ["JK301"]
