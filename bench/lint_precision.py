"""Precision of each jobkit-lint rule on real applications, from hand judgments.

Run: python bench/lint_precision.py [--check DIR] [--pending FILE]

The judgments are data: `bench/lint_precision/repos.toml` names each application, the commit
that was linted and its job frameworks; every `bench/lint_precision/*.csv` has the header
`repo,commit,path,line,code,verdict,reason`, one row per finding (or per missed case), with
verdict `true`, `false`, `debatable` or `missed`. The fetched code itself is never committed.

Without options the script prints the per-rule table: precision = true / (true + false),
debatable findings shown but excluded, missed cases (the rule should have fired) counted apart.

`--check DIR` re-lints every application found as `DIR/<name>` (the repository's name, e.g.
`DIR/saleor`) with `jobkit-lint --format json --no-cache --exit-zero` run from inside it, then
reports findings that have no judgment, judgments whose finding disappeared, and missed cases
that are now found; it exits 1 when any of those exist. `--rules JK101,JK201` limits the
comparison to those codes. `--pending FILE` also writes the unjudged findings as CSV rows
with an empty verdict, ready to be judged and appended.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import tomllib

DATA = Path(__file__).with_name("lint_precision")
HEADER = ["repo", "commit", "path", "line", "code", "verdict", "reason"]
VERDICTS = ("true", "false", "debatable", "missed")


@dataclass(frozen=True)
class App:
    """One linted application: `owner/name`, the commit and its job frameworks."""

    repo: str
    commit: str
    frameworks: tuple[str, ...]

    @property
    def name(self) -> str:
        """The directory name the application is extracted to."""
        return self.repo.split("/", 1)[1]


Key = tuple[str, str, int, str]  # repo, path, line, code


def load_apps(path: Path = DATA / "repos.toml") -> dict[str, App]:
    """The applications of repos.toml by `owner/name`."""
    document = tomllib.loads(path.read_text(encoding="utf-8"))
    apps = {}
    for entry in document.get("app", []):
        app = App(entry["repo"], entry["commit"], tuple(entry["frameworks"]))
        apps[app.repo] = app
    return apps


def load_judgments(apps: dict[str, App]) -> dict[Key, dict[str, str]]:
    """Every judgment row of every CSV file, keyed by (repo, path, line, code)."""
    rows: dict[Key, dict[str, str]] = {}
    for csv_path in sorted(DATA.glob("*.csv")):
        with csv_path.open(newline="", encoding="utf-8") as stream:
            reader = csv.DictReader(stream)
            if reader.fieldnames != HEADER:
                sys.exit(f"{csv_path}: header {reader.fieldnames} must be {','.join(HEADER)}")
            for number, row in enumerate(reader, start=2):
                where = f"{csv_path.name}:{number}"
                if row["verdict"] not in VERDICTS:
                    sys.exit(f"{where}: verdict={row['verdict']!r} must be one of {VERDICTS}")
                app = apps.get(row["repo"])
                if app is None:
                    sys.exit(f"{where}: repo={row['repo']!r} is not in repos.toml")
                if row["commit"] != app.commit:
                    sys.exit(f"{where}: commit={row['commit']!r} is not {app.commit} (repos.toml)")
                if not row["reason"].strip():
                    sys.exit(f"{where}: every judgment needs a one-line reason")
                key = (row["repo"], row["path"], int(row["line"]), row["code"])
                if key in rows:
                    sys.exit(f"{where}: {key} is judged twice")
                rows[key] = row
    return rows


def table(rows: dict[Key, dict[str, str]]) -> str:
    """The per-rule Markdown table."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for (_repo, _path, _line, code), row in rows.items():
        counts[code][row["verdict"]] += 1
    lines = [
        "| rule | true | false | debatable | missed | precision |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for code in sorted(counts):
        c = counts[code]
        judged = c["true"] + c["false"]
        precision = f"{c['true'] / judged:.2f}" if judged else "-"
        lines.append(
            f"| {code} | {c['true']} | {c['false']} | {c['debatable']} | {c['missed']} "
            f"| {precision} |"
        )
    return "\n".join(lines)


def lint(directory: Path) -> list[dict[str, object]]:
    """jobkit-lint's JSON findings for one extracted application, paths relative to it."""
    command = [sys.executable, "-c", "from jobkit_lint.cli import main; main()",
               "--format", "json", "--no-cache", "--exit-zero", "."]
    done = subprocess.run(command, cwd=directory, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"jobkit-lint failed in {directory}: {done.stderr.strip()}")
    findings: list[dict[str, object]] = json.loads(done.stdout or "[]")
    return findings


def check(directory: Path, apps: dict[str, App], rows: dict[Key, dict[str, str]],
          pending: Path | None, codes: frozenset[str] | None = None) -> int:
    """Re-lint the applications and compare the findings with the judgments."""
    if codes is not None:
        rows = {k: row for k, row in rows.items() if k[3] in codes}
    found: set[Key] = set()
    unjudged: list[dict[str, str]] = []
    linted: set[str] = set()
    for app in apps.values():
        where = directory / app.name
        if not where.is_dir():
            print(f"skipped {app.repo}: {where} does not exist")
            continue
        linted.add(app.repo)
        for finding in lint(where):
            key = (app.repo, str(finding["path"]), int(str(finding["line"])), str(finding["code"]))
            if codes is not None and key[3] not in codes:
                continue
            if key in found:
                continue  # two findings of one rule on one line share a judgment
            found.add(key)
            row = rows.get(key)
            if row is None:
                unjudged.append({
                    "repo": app.repo, "commit": app.commit, "path": key[1],
                    "line": str(key[2]), "code": key[3], "verdict": "",
                    "reason": str(finding["message"]),
                })
            elif row["verdict"] == "missed":
                print(f"now found (was missed): {app.repo} {key[1]}:{key[2]} {key[3]}")
    gone = [k for k, row in rows.items()
            if k[0] in linted and k not in found and row["verdict"] != "missed"]
    for row in unjudged:
        print(f"unjudged: {row['repo']} {row['path']}:{row['line']} {row['code']} "
              f"{row['reason']}")
    for key in gone:
        print(f"disappeared ({rows[key]['verdict']}): {key[0]} {key[1]}:{key[2]} {key[3]}")
    if pending is not None:
        with pending.open("w", newline="", encoding="utf-8") as stream:
            writer = csv.DictWriter(stream, HEADER)
            writer.writeheader()
            writer.writerows(unjudged)
    print(f"{len(found)} findings, {len(unjudged)} unjudged, {len(gone)} disappeared")
    return 1 if unjudged or gone else 0


def main() -> None:
    """Print the table; with --check, compare a fresh lint run with the judgments."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", type=Path, metavar="DIR",
                        help="directory holding the extracted applications")
    parser.add_argument("--pending", type=Path, metavar="FILE",
                        help="with --check: write unjudged findings here as CSV")
    parser.add_argument("--rules", metavar="CODES",
                        help="with --check: compare only these comma-separated codes")
    options = parser.parse_args()
    apps = load_apps()
    rows = load_judgments(apps)
    print(f"{len(rows)} judgments over {len({k[0] for k in rows})} applications")
    print(table(rows))
    if options.check is not None:
        codes = frozenset(options.rules.split(",")) if options.rules else None
        sys.exit(check(options.check, apps, rows, options.pending, codes))


if __name__ == "__main__":
    main()
