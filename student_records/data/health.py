"""The database round trip behind the readiness check."""

from .database import Database, Query

PING = Query("health.ping", "SELECT 1 AS ok")


def ping(database: Database) -> None:
    database.fetch_one(PING)
