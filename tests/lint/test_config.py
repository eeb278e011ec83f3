"""`[tool.jobkit-lint]` in pyproject.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobkit_lint import ConfigError, load_config
from jobkit_lint.cli import main

from .helpers import write_tree

TASKS = """\
    from shop.models import Order
    from shop.tasks import ship

    def view(order: Order):
        ship.delay(order)
"""


def test_unknown_key_is_an_error_naming_the_key(tmp_path: Path) -> None:
    write_tree(tmp_path, {"pyproject.toml": "[tool.jobkit-lint]\nselekt = ['JK1']\n"})
    with pytest.raises(ConfigError, match="unknown key 'selekt'"):
        load_config(tmp_path)


def test_unknown_key_makes_the_cli_exit_two(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_tree(tmp_path, {"pyproject.toml": "[tool.jobkit-lint]\nexclud = []\n"})
    monkeypatch.chdir(tmp_path)
    assert main(["--no-cache"]) == 2
    assert "exclud" in capsys.readouterr().err


def test_wrongly_typed_value_is_an_error_naming_it(tmp_path: Path) -> None:
    write_tree(tmp_path, {"pyproject.toml": "[tool.jobkit-lint]\nignore = 'JK101'\n"})
    with pytest.raises(ConfigError, match="ignore='JK101' must be a list of strings"):
        load_config(tmp_path)


def test_config_is_found_by_walking_up_from_the_first_path(tmp_path: Path) -> None:
    write_tree(tmp_path, {
        "pyproject.toml": "[tool.jobkit-lint]\nselect = ['JK5']\n",
        "src/pkg/mod.py": "x = 1\n",
    })
    config = load_config(tmp_path / "src" / "pkg")
    assert (config.root, config.select) == (tmp_path.resolve(), ("JK5",))


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ("ignore = ['JK101']", 0),
        ("select = ['JK2']", 0),
        ("exclude = ['legacy']", 0),
        ("[tool.jobkit-lint.per-file-ignores]\n'legacy/*.py' = ['JK101']", 0),
        ("model-modules = ['entities']", 0),
        ("", 1),
    ],
    ids=["ignore", "select", "exclude", "per-file-ignores", "model-modules", "defaults"],
)
def test_configuration_keys_change_what_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, table: str, expected: int
) -> None:
    header = "" if table.startswith("[") else "[tool.jobkit-lint]\n"
    write_tree(tmp_path, {"pyproject.toml": header + table + "\n", "legacy/tasks.py": TASKS})
    monkeypatch.chdir(tmp_path)
    assert main(["--no-cache", "--format", "json"]) == expected
