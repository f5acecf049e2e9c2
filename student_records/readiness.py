"""Readiness: whether this process can serve now (a database round trip, the schema the code expects, the signing
keys the REST contract checks), and the students total sampled on each check."""

import time
from datetime import datetime

from pydantic import Field

from observability import business

from .data import health, migrations
from .data.database import Database
from .errors import DatabaseUnavailable
from .models import Model
from .students.repository import StudentRepository


class CheckResult(Model):
    status: str
    detail: str | None = None
    since: datetime | None = Field(
        None,
        description="Since when the check has been failing, where that is known: the database's, while new "
        "connections to it fail and requests are refused at once.",
    )


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
        checks["database"] = self._database_check()
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

    def _database_check(self) -> CheckResult:
        outage = self._database.outage()
        if outage is not None:  # not asked again: the probe is asking, every interval
            return CheckResult(
                status="failed",
                since=outage.since,
                detail=f"unreachable: new connections fail ({outage.cause}); probed every "
                f"{self._database.probe_interval_ms} ms",
            )
        started = time.perf_counter()
        try:
            health.ping(self._database)
        except DatabaseUnavailable as error:
            return CheckResult(status="failed", detail=str(error))
        return CheckResult(status="ok", detail=f"{(time.perf_counter() - started) * 1000:.1f} ms")
