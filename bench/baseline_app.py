"""The baseline: the least a Flask + gunicorn service needs to serve the bench's routes with the project's
driver (psycopg 3 + psycopg_pool, autocommit, dict rows) and the same SQL minus the audit row. No auth,
validation, rate limit, contract or signals: what is left is Flask, gunicorn, the driver and PostgreSQL.

    DATABASE_URL=... gunicorn -c flask_backend/gunicorn.conf.py bench.baseline_app:app
"""

import json
import os

from flask import Flask, Response, request
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from application.settings import Settings
from student_records.paging import Pager

# Cursors as the doors sign them (CURSOR_SIGNING_KEY), so that a deep page's cursor works on every door.
cursors = Pager(Settings.from_environ().cursors.signing_key.get_secret_value().encode())

_COLUMNS = (
    "id, student_number, first_name, last_name, email, date_of_birth, status, enrolled_on, created_at, updated_at,"
    " version"
)
GET_BY_ID = f"SELECT {_COLUMNS} FROM students WHERE id = %(id)s"
PAGE = f"SELECT {_COLUMNS} FROM students WHERE id > %(after)s ORDER BY id LIMIT %(limit)s"
COUNT = "SELECT row_count FROM row_counts WHERE table_name = 'students'"
INSERT = (
    "INSERT INTO students (first_name, last_name, email) VALUES (%(first_name)s, %(last_name)s, %(email)s)"
    f" RETURNING {_COLUMNS}"
)

app = Flask(__name__)
# Sized like the project's pool (DB_POOL_MIN_SIZE / DB_POOL_MAX_SIZE), opened after gunicorn's fork.
pool = ConnectionPool(
    os.environ["DATABASE_URL"],
    min_size=int(os.environ.get("DB_POOL_MIN_SIZE", "1")),
    max_size=int(os.environ.get("DB_POOL_MAX_SIZE", "4")),
    kwargs={"autocommit": True, "row_factory": dict_row},
    open=True,
)


def _fetch(sql: str, params: dict) -> list[dict]:
    with pool.connection() as connection:
        return connection.execute(sql, params).fetchall()


def _json(payload: object, status: int = 200) -> Response:
    return Response(json.dumps(payload, default=str), status=status, mimetype="application/json")


@app.get("/students/<int:student_id>")
def get_student(student_id: int) -> Response:
    rows = _fetch(GET_BY_ID, {"id": student_id})
    return _json(rows[0]) if rows else _json({"title": "not found"}, 404)


@app.get("/students")
def list_students() -> Response:
    limit = int(request.args.get("limit", "50"))
    cursor = request.args.get("cursor")
    rows = _fetch(PAGE, {"after": cursors.start(cursor, (None, None)) if cursor else 0, "limit": limit + 1})
    return _json({"items": rows[:limit], "next_cursor": rows[limit - 1]["id"] if len(rows) > limit else None})


@app.get("/students/count")
def count_students() -> Response:
    return _json({"count": _fetch(COUNT, {})[0]["row_count"]})


@app.post("/students")
def create_student() -> Response:
    body = request.get_json()
    row = _fetch(INSERT, {name: body[name] for name in ("first_name", "last_name", "email")})[0]
    return _json(row, 201)
