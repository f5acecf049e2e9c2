"""The bulk-create measurement: N generated students loaded into the bench's freshly migrated table through the
project's own import path (`student-records-import`, as `make import` runs it), progress line included."""

import json
import subprocess
import sys
from pathlib import Path

from local_stack.import_students import write_fake_students

from .common import REPO_ROOT, log


def import_generated_students(database_url: str, rows: int, scratch: Path) -> dict:
    """Writes `rows` valid students to a CSV file, imports it, and returns the command's own figures."""
    students_csv = scratch / f"students-{rows}.csv"
    log(f"writing {rows:,} generated students to {students_csv}")
    write_fake_students(students_csv, rows)
    log("importing them with student-records-import (progress on stderr when it is a terminal)")
    stdout_path = scratch / "import.out"
    with stdout_path.open("w") as stdout:
        # stderr stays the bench's: the command's progress line and summary show as a user would see them.
        exit_code = subprocess.run(
            [
                sys.executable,
                "-m",
                "local_stack.import_students",
                str(students_csv),
                "--database-url",
                database_url,
                "--report",
                str(scratch / "import.rejected.csv"),
            ],
            cwd=REPO_ROOT,
            stdout=stdout,
            check=False,
        ).returncode
    summary = _log_line(stdout_path)
    if exit_code != 0 or summary["loaded"] != rows:
        raise RuntimeError(
            f"the import exited with {exit_code} and loaded {summary.get('loaded')} of {rows:,} rows"
            f" (its output: {stdout_path})"
        )
    students_csv.unlink()
    return {
        "rows": summary["read"],
        "loaded": summary["loaded"],
        "seconds": summary["seconds"],
        "rows_per_s": summary["rows_per_s"],
    }


def _log_line(stdout_path: Path) -> dict:
    """The command's JSON log line with its counts (EMF documents share stdout)."""
    for line in stdout_path.read_text().splitlines():
        if line.startswith("{") and (document := json.loads(line)).get("message") == "import":
            return document
    raise RuntimeError(f"the import wrote no summary log line to {stdout_path}")
