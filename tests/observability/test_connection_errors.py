"""A database that cannot be reached is a DatabaseUnavailable, counted as a connection error."""

import json
import socket

import pytest

from observability import installed
from student_records.data.database import Database
from student_records.data.health import PING
from student_records.errors import DatabaseUnavailable
from student_records.settings import DatabaseSettings


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_unreachable_database_is_reported_and_counted(capsys):
    # Given a pool pointed at a port where nothing listens
    settings = DatabaseSettings(url=f"host=127.0.0.1 port={_closed_port()} dbname=x user=postgres", pool_timeout_s=0.3)
    database = Database(settings)
    installed().flush()
    capsys.readouterr()
    try:
        # When a statement is attempted (before or after the pool's first attempt has failed: refused at once then)
        with pytest.raises(DatabaseUnavailable, match=r"no database connection|the database is unreachable"):
            database.fetch_one(PING)
    finally:
        database.close()
    # Then the connection error is counted, and no statement was recorded as run
    installed().flush()
    documents = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [d["DbConnectionErrors"] for d in documents if "DbConnectionErrors" in d] == [1]
    assert not [d for d in documents if "QueryName" in d]
