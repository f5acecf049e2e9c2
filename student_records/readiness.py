"""Readiness: whether this process can serve now (a database round trip, the schema the code expects, the signing
keys the REST contract checks), and the students total sampled on each check."""

import time

from observability import business

from .data import health, migrations
from .data.database import Database
from .errors import DatabaseUnavailable
from .models import Model
from .students.repository import StudentRepository


class CheckResult(Model):
    status: str
    detail: str | None = None


class Readiness(Model):
    status: str
    checks: dict[str, CheckResult]
    schema_version: str | None


class ReadinessService:
    def __init__(self, database: Database) -> None:
        self._database = database
        self._expected_schema_version = migrations.latest_version(database.settings.migrations_dir)

    def check(self, auth: CheckResult) -> Readiness:
        """`auth`: whether tokens can be verified, checked by the REST contract, which holds the signing keys."""
        checks: dict[str, CheckResult] = {}
        schema_version = None
        started = time.perf_counter()
        try:
            health.ping(self._database)
            checks["database"] = CheckResult(status="ok", detail=f"{(time.perf_counter() - started) * 1000:.1f} ms")
        except DatabaseUnavailable as error:
            checks["database"] = CheckResult(status="failed", detail=str(error))
        if checks["database"].status == "ok":
            schema_version = migrations.current_version(self._database)
            expected = self._expected_schema_version
            if schema_version == expected:
                checks["schema"] = CheckResult(status="ok", detail=f"version {schema_version}")
            else:
                checks["schema"] = CheckResult(
                    status="failed", detail=f"schema at version {schema_version}, code expects {expected}"
                )
        else:
            checks["schema"] = CheckResult(status="failed", detail="not checked: the database is unreachable")
        checks["auth"] = auth
        ready = all(check.status == "ok" for check in checks.values())
        business.readiness_checked(ready, StudentRepository(self._database).count() if ready else None)
        return Readiness(status="ok" if ready else "unavailable", checks=checks, schema_version=schema_version)
