"""Database latencies through the project's own data layer, in a process with OBSERVABILITY=off so that
only the driver, the pool and PostgreSQL are measured.

    OBSERVABILITY=off DATABASE_URL=... python -m bench.db_latency --rows N --out result.json
"""

import argparse
import json
import os
import random
import time
from functools import partial
from pathlib import Path

from application.settings import Settings
from bench.common import median, percentile
from student_records.access import Caller, Role
from student_records.data.database import Database, Query
from student_records.students.repository import StudentRepository

BENCH_CALLER = Caller("bench-db-latency", Role.ADMIN, "bench-db-latency")
COUNT_CALLS = 3000
PAGE_CALLS = 300
GET_CALLS = 1000
# The read of GET /students/{id} without its audit row: what the audit costs a read.
PLAIN_GET = Query("bench.get_without_audit", "SELECT * FROM students WHERE id = %(id)s")


def _timed_ms(call) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def _summary(samples: list[float]) -> dict[str, float]:
    return {"p50_ms": round(median(samples), 4), "p99_ms": round(percentile(samples, 0.99), 4), "calls": len(samples)}


def measure(rows: int) -> dict:
    assert os.environ.get("OBSERVABILITY") == "off", "run with OBSERVABILITY=off: only the database is measured"
    database = Database(Settings.from_environ().database)
    students = StudentRepository(database)
    students.count()  # opens the pool's first connection outside the measurement
    count = [_timed_ms(students.count) for _ in range(COUNT_CALLS)]
    # Interleaved, so that a drift (checkpoint, autovacuum) touches both sides alike.
    deep_after = max(0, rows - 10_000)
    first_page, deep_page = [], []
    for _ in range(PAGE_CALLS):
        for after_id, samples in ((0, first_page), (deep_after, deep_page)):
            samples.append(
                _timed_ms(
                    partial(
                        students.page,
                        BENCH_CALLER,
                        after_id=after_id,
                        limit=51,
                        status=None,
                        prefix=None,
                        search_emails=True,
                    )
                )
            )
    rng = random.Random(7)
    audited_get, plain_get = [], []
    for _ in range(GET_CALLS):
        student_id = rng.randint(1, rows)
        audited_get.append(_timed_ms(partial(students.get, BENCH_CALLER, student_id)))
        plain_get.append(_timed_ms(partial(database.fetch_one, PLAIN_GET, {"id": student_id})))
    full_scan = [
        _timed_ms(lambda: database.fetch_one(Query("bench.count_star", "SELECT count(*) FROM students")))
        for _ in range(5)
    ]
    return {
        "rows": students.count(),
        "count": _summary(count),
        "first_page": _summary(first_page),
        "deep_page": {**_summary(deep_page), "after_id": deep_after},
        "deep_page_over_first_page": round(median(deep_page) / median(first_page), 3),
        "get_with_audit": _summary(audited_get),
        "get_without_audit": _summary(plain_get),
        "count_star_ms": round(median(full_scan), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.write_text(json.dumps(measure(args.rows)))


if __name__ == "__main__":
    main()
