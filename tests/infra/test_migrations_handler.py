"""The migrations custom resource always answers CloudFormation, with a reason, whatever happens; a failure answered
fails the invocation too, so that Lambda counts it in Errors (the migrations-function-errors alarm)."""

import time
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest

from handlers import cloudformation
from handlers import migrations as custom_resource
from tests.handlers.loopback import LoopbackHttp


@dataclass
class FakeContext:
    remaining_ms: int = 300_000
    log_stream_name: str = "2026/11/25/[$LATEST]abc"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.fixture
def response_url() -> Iterator[LoopbackHttp]:
    """Stands in for the presigned S3 URL: records each PUT (body and content type)."""
    server = LoopbackHttp()
    yield server
    server.close()


def event(request_type: str, url: str, **extra: str) -> dict:
    return {
        "RequestType": request_type,
        "ResponseURL": url,
        "StackId": "arn:aws:cloudformation:eu-west-1:1:stack/s/1",
        "RequestId": "req-1",
        "LogicalResourceId": "Migrations",
        "ResourceType": "Custom::DatabaseMigrations",
        "ResourceProperties": {"MigrationsChecksum": "abc"},
        **extra,
    }


def test_create_applies_the_migrations_and_answers_success(empty_database, response_url, monkeypatch):
    # Given an empty database
    monkeypatch.setenv("DATABASE_URL", empty_database)
    # When CloudFormation creates the resource
    custom_resource.handler(event("Create", response_url.url), FakeContext())
    # Then the schema is there, and CloudFormation got SUCCESS with what was applied
    [answer] = response_url.answers
    assert answer["Status"] == "SUCCESS"
    assert answer["Reason"].startswith("applied 0001")
    assert answer["PhysicalResourceId"] == custom_resource.PHYSICAL_RESOURCE_ID
    assert (answer["StackId"], answer["RequestId"], answer["LogicalResourceId"]) == (
        "arn:aws:cloudformation:eu-west-1:1:stack/s/1",
        "req-1",
        "Migrations",
    )
    with psycopg.connect(empty_database) as connection:
        versions = [row[0] for row in connection.execute("SELECT version FROM schema_migrations ORDER BY version")]
    assert answer["Data"]["SchemaVersion"] == versions[-1]
    # And without a content type, which the presigned URL's signature does not cover
    assert response_url.content_types == [""]


def test_update_keeps_the_physical_id_and_reports_up_to_date(empty_database, response_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", empty_database)
    custom_resource.handler(event("Create", response_url.url), FakeContext())
    # When an update runs on an up-to-date schema
    custom_resource.handler(event("Update", response_url.url, PhysicalResourceId="schema-1"), FakeContext())
    # Then it succeeds without changing the physical id (a new one would make CloudFormation delete the old)
    answer = response_url.answers[-1]
    assert (answer["Status"], answer["Reason"], answer["PhysicalResourceId"]) == (
        "SUCCESS",
        "schema already up to date",
        "schema-1",
    )


def test_delete_touches_nothing_and_answers_success(response_url, monkeypatch):
    # Given no database at all
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("DB_HOST", raising=False)
    # When the resource is deleted
    custom_resource.handler(event("Delete", response_url.url, PhysicalResourceId="schema-1"), FakeContext())
    # Then the data is kept and CloudFormation hears so
    [answer] = response_url.answers
    assert answer["Status"] == "SUCCESS" and "kept" in answer["Reason"]


def test_a_failure_is_answered_with_its_reason(response_url, monkeypatch):
    # Given a database that refuses connections
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none?connect_timeout=1")
    # When CloudFormation creates the resource
    with pytest.raises(custom_resource.MigrationsFailed, match="OperationalError"):
        custom_resource.handler(event("Create", response_url.url), FakeContext())
    # Then it heard FAILED before the invocation failed, with the error in the reason
    [answer] = response_url.answers
    assert answer["Status"] == "FAILED"
    assert answer["Reason"].startswith("migrations failed: OperationalError: connection failed")


def test_missing_configuration_is_answered_too(response_url, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("DB_HOST", raising=False)
    with pytest.raises(custom_resource.MigrationsFailed):
        custom_resource.handler(event("Create", response_url.url), FakeContext())
    [answer] = response_url.answers
    assert answer["Status"] == "FAILED" and "ConfigurationError" in answer["Reason"]


def test_migrations_still_running_near_the_timeout_are_answered_failed(response_url, monkeypatch):
    # Given migrations that take longer than the function has left
    monkeypatch.setattr(custom_resource, "migrate", lambda conninfo, sql_dir, log: time.sleep(5))
    monkeypatch.setenv("DATABASE_URL", "postgresql://localhost/none")
    context = FakeContext(remaining_ms=custom_resource.ANSWER_MARGIN_MS + 200)
    # When CloudFormation creates the resource
    started = time.monotonic()
    with pytest.raises(custom_resource.MigrationsFailed, match="still running"):
        custom_resource.handler(event("Create", response_url.url), context)
    # Then the answer goes out before the timeout would have struck, as a failure that says why
    assert time.monotonic() - started < 2
    [answer] = response_url.answers
    assert answer["Status"] == "FAILED" and "still running" in answer["Reason"]


def test_a_long_reason_is_cut_to_fit_the_answer(response_url, monkeypatch):
    def fail(conninfo, sql_dir, log):
        raise RuntimeError("x" * 10_000)

    monkeypatch.setattr(custom_resource, "migrate", fail)
    monkeypatch.setenv("DATABASE_URL", "postgresql://localhost/none")
    with pytest.raises(custom_resource.MigrationsFailed):
        custom_resource.handler(event("Create", response_url.url), FakeContext())
    [answer] = response_url.answers
    assert len(answer["Reason"]) == cloudformation.MAX_REASON_CHARS
