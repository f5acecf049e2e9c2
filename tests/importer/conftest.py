"""Helpers of the import tests: CSV files written from rows, and the command run as a user would run it."""

import csv
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from local_stack.import_students import main

HEADER = ("first_name", "last_name", "email")


def write_csv(path: Path, rows: Sequence[Sequence[object]], header: Sequence[str] = HEADER) -> Path:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@dataclass
class ImportRun:
    exit_code: int
    report: list[dict[str, str]]
    stdout: str
    stderr: str

    @property
    def log_line(self) -> dict:
        """The command's JSON log line (EMF documents share stdout)."""
        lines = [json.loads(line) for line in self.stdout.splitlines() if line.startswith("{")]
        [line] = [line for line in lines if line.get("message") == "import"]
        return line


@pytest.fixture
def run_import(db, database_conninfo, tmp_path, capsys) -> Callable[..., ImportRun]:
    """Runs the command on a file over the test database; returns its exit code, report and output."""

    def _run(path: Path, *arguments: str) -> ImportRun:
        report = tmp_path / "rejected.csv"
        capsys.readouterr()
        exit_code = main([str(path), "--report", str(report), "--database-url", database_conninfo, *arguments])
        captured = capsys.readouterr()
        rows = list(csv.DictReader(report.open(encoding="utf-8"))) if report.exists() else []
        return ImportRun(exit_code, rows, captured.out, captured.err)

    return _run
