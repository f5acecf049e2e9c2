"""What single pieces of the project's request path cost, each timed alone (µs, median of many calls), in a
process with OBSERVABILITY=off: the parts that the baseline does not do. Then the Flask door itself with its
rate limiter and its pool's connection check switched off in turn, at run time, in this throwaway process.

    OBSERVABILITY=off DATABASE_URL=... BENCH_TOKEN=... python -m bench.components --rows N --out result.json
"""

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from application import build_application
from student_records.access import Caller, Role
from student_records.data.database import Query, trace_url
from student_records.students.models import Student
from student_records.students.repository import StudentRepository

from .common import median
from .inprocess import flask_caller

CALLS = 2000
ABLATION_ROUNDS = 8
ABLATION_BLOCK = 200
CALLER = Caller("bench-components", Role.ADMIN, "bench-components")
PLAIN_GET = Query("bench.get_without_audit", "SELECT * FROM students WHERE id = %(id)s")


def timed_us(call, calls: int = CALLS) -> float:
    samples = []
    for _ in range(calls):
        started = time.perf_counter_ns()
        call()
        samples.append((time.perf_counter_ns() - started) / 1000)
    return round(median(samples), 1)


def measure(rows: int) -> dict:
    assert os.environ.get("OBSERVABILITY") == "off"
    application = build_application()
    database = application.database
    students = StudentRepository(database)
    authorization = f"Bearer {os.environ['BENCH_TOKEN']}"
    authenticator = application.services.authenticator
    base_conninfo, _ = database.settings.connection()
    unchecked_pool = ConnectionPool(
        base_conninfo, min_size=1, max_size=1, kwargs={"autocommit": True, "row_factory": dict_row}
    )
    unchecked_pool.wait()
    rng = random.Random(3)
    row = database.fetch_one(PLAIN_GET, {"id": 1})

    def pool_checkout_checked() -> None:
        with database.session():
            pass

    def pool_checkout_unchecked() -> None:
        with unchecked_pool.connection():
            pass

    try:
        return {
            "jwt_verify_us": timed_us(lambda: authenticator.identify(authorization)),
            # What each statement would cost if its trace fields were not parsed once per Database.
            "conninfo_parsing_per_statement_us": timed_us(
                lambda: (trace_url(base_conninfo), conninfo_to_dict(base_conninfo).get("user"))
            ),
            "pool_checkout_with_check_us": timed_us(pool_checkout_checked),
            "pool_checkout_without_check_us": timed_us(pool_checkout_unchecked),
            "get_with_audit_us": timed_us(lambda: students.get(CALLER, rng.randint(1, rows)), 1000),
            "get_without_audit_us": timed_us(lambda: database.fetch_one(PLAIN_GET, {"id": rng.randint(1, rows)}), 1000),
            "student_model_validate_and_dump_us": timed_us(lambda: Student.model_validate(row).model_dump_json()),
        }
    finally:
        unchecked_pool.close()
        application.close()


def flask_door_ablation(rows: int) -> dict[str, float]:
    """Median CPU µs per GET /students/{id} through the whole Flask door, blocks interleaved."""
    call = flask_caller("flask_backend.wsgi", os.environ["BENCH_TOKEN"], rows)
    app = sys.modules["flask_backend.wsgi"].app
    hooks = app.before_request_funcs[None]
    limit_hook = next(hook for hook in hooks if hook.__name__ == "_limit")  # flask_backend/rate_limit.py

    def limiter_on(on: bool) -> None:
        if on and limit_hook not in hooks:
            hooks.append(limit_hook)  # it is the last hook the app registers
        elif not on and limit_hook in hooks:
            hooks.remove(limit_hook)

    pool = app.extensions["application"].database._pool
    check = pool._check
    settings = {
        "as is": (True, check),
        "no rate limiter": (False, check),
        "no pool check": (True, None),
        "neither": (False, None),
    }
    for index in range(300):
        call(index)
    blocks: dict[str, list[float]] = {name: [] for name in settings}
    served = 0
    for round_number in range(ABLATION_ROUNDS):
        names = list(settings)
        for name in names[round_number % 4 :] + names[: round_number % 4]:
            limited, pool._check = settings[name]
            limiter_on(limited)
            timings = [call(served + index) for index in range(ABLATION_BLOCK)]
            served += ABLATION_BLOCK
            blocks[name].append(median([cpu for _, cpu in timings]))
    limiter_on(True)
    pool._check = check
    return {name: round(median(values), 1) for name, values in blocks.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.write_text(json.dumps({**measure(args.rows), "flask_door_cpu_us": flask_door_ablation(args.rows)}))


if __name__ == "__main__":
    main()
