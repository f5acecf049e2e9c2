"""Versioned plain-SQL migrations from sql/, applied in order and recorded in schema_migrations.

A runner of about a hundred lines on the app's own driver rather than a migration framework: each file runs
whole (PL/pgSQL bodies included), in one transaction with its version row, so a failing file leaves the database
as it was, and the readiness check reads the same table. The directory is the database settings' (migrations_dir,
STUDENT_RECORDS_SQL_DIR); SQL_DIR, the project's own, is the default.
"""

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg

from ..settings import DEFAULT_MIGRATIONS_DIR
from .database import Database, Query

SQL_DIR = DEFAULT_MIGRATIONS_DIR
_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# Any constant works: it only has to be the same for every process that migrates this database.
_ADVISORY_LOCK_KEY = 0x5354_5544  # "STUD"

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    text PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)"""
CURRENT_VERSION = Query("schema.version", "SELECT max(version) AS version FROM schema_migrations")


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover(sql_dir: Path = SQL_DIR) -> list[Migration]:
    migrations = []
    for path in sorted(sql_dir.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named NNNN_snake_case.sql")
        migrations.append(Migration(match[1], match[2], path.read_text(encoding="utf-8")))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migration files share a version in {sql_dir}")
    return migrations


def latest_version(sql_dir: Path = SQL_DIR) -> str | None:
    migrations = discover(sql_dir)
    return migrations[-1].version if migrations else None


def migrate(conninfo: str, sql_dir: Path = SQL_DIR, log: Callable[[str], None] = lambda _: None) -> list[str]:
    """Applies what is pending; returns the versions applied (none when up to date)."""
    migrations = discover(sql_dir)
    applied_now = []
    with psycopg.connect(conninfo, autocommit=True) as connection:
        # Serialise concurrent migrators (two processes starting at once) instead of racing.
        connection.execute("SELECT pg_advisory_lock(%s)", (_ADVISORY_LOCK_KEY,))
        try:
            connection.execute(_CREATE_TABLE)
            applied: dict[str, str] = dict(connection.execute("SELECT version, checksum FROM schema_migrations"))
            for migration in migrations:
                if migration.version in applied:
                    if applied[migration.version] != migration.checksum:
                        raise MigrationError(
                            f"{migration.version}_{migration.name}.sql changed after it was applied;"
                            " add a new migration instead of editing an applied one"
                        )
                    continue
                log(f"applying migration {migration.version}_{migration.name}")
                try:
                    with connection.transaction():
                        connection.execute(migration.sql.encode())
                        connection.execute(
                            "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                            (migration.version, migration.name, migration.checksum),
                        )
                except psycopg.Error as error:
                    raise MigrationError(
                        f"migration {migration.version}_{migration.name} failed and was rolled back: {error}"
                    ) from error
                applied_now.append(migration.version)
        finally:
            connection.execute("SELECT pg_advisory_unlock(%s)", (_ADVISORY_LOCK_KEY,))
    return applied_now


def current_version(database: Database) -> str | None:
    """The newest applied version; None before the first migration ran."""
    try:
        row = database.fetch_one(CURRENT_VERSION)
    except psycopg.errors.UndefinedTable:
        return None
    return row["version"] if row else None
