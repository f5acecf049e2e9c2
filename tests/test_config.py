"""Database settings from the environment."""

import pytest
from psycopg.conninfo import conninfo_to_dict

from student_records.config import ConfigurationError, DatabaseSettings


def test_database_url_wins_and_gets_timeouts():
    settings = DatabaseSettings.from_env({"DATABASE_URL": "postgresql://app:s3cret@db.internal:5433/records",
                                          "DB_HOST": "ignored"})
    parts = conninfo_to_dict(settings.conninfo)
    assert parts["host"] == "db.internal" and parts["port"] == "5433" and parts["dbname"] == "records"
    assert parts["connect_timeout"] == "3"
    assert settings.statement_timeout_ms == 5000


def test_seed_style_variables():
    settings = DatabaseSettings.from_env({"DB_HOST": "h", "DB_NAME": "n", "DB_USER": "u", "DB_PASSWORD": "p",
                                          "DB_PORT": "6543", "DB_CONNECT_TIMEOUT": "7"})
    assert conninfo_to_dict(settings.conninfo) == {
        "host": "h", "port": "6543", "dbname": "n", "user": "u", "password": "p", "connect_timeout": "7",
        "application_name": "student-records"}


def test_trace_url_has_no_credentials():
    settings = DatabaseSettings.from_env({"DATABASE_URL": "postgresql://app:s3cret@db/records"})
    assert settings.trace_url == "postgresql://db:5432/records"
    assert settings.user == "app"
    assert "s3cret" in settings.conninfo


def test_nothing_configured_says_what_to_set():
    with pytest.raises(ConfigurationError, match="DATABASE_URL"):
        DatabaseSettings.from_env({})


@pytest.mark.parametrize("value", ["0", "-5", "many"])
def test_bad_numbers_are_refused_by_name(value):
    with pytest.raises(ConfigurationError, match="DB_STATEMENT_TIMEOUT_MS"):
        DatabaseSettings.from_env({"DATABASE_URL": "postgresql://x/y", "DB_STATEMENT_TIMEOUT_MS": value})
