"""The bare Lambda handler: a Powertools APIGatewayRestResolver that reads a student by id with the
project's driver, and nothing else (no auth, audit, contract or signals). What the project's handler is
compared with, warm and cold.

Handler: bench.bare_lambda.lambda_handler
"""

import json
import os
from functools import cache

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

GET_BY_ID = (
    "SELECT id, student_number, first_name, last_name, email, date_of_birth, status, enrolled_on, created_at,"
    " updated_at, version FROM students WHERE id = %(id)s"
)

app = APIGatewayRestResolver()


@cache
def _pool() -> ConnectionPool:
    # On first use, as the project's handler does: the import (the cold start) opens no connection.
    return ConnectionPool(
        os.environ["DATABASE_URL"], min_size=1, max_size=1, kwargs={"autocommit": True, "row_factory": dict_row}
    )


@app.get("/students/<student_id>")
def get_student(student_id: str) -> Response:
    with _pool().connection() as connection:
        row = connection.execute(GET_BY_ID, {"id": int(student_id)}).fetchone()
    if row is None:
        return Response(404, "application/json", '{"title":"not found"}')
    return Response(200, "application/json", json.dumps(row, default=str))


def lambda_handler(event: dict, context) -> dict:
    return app.resolve(event, context)
