"""Database passwords that change: a refused password is renewed once and the pool goes on."""

import shutil
import time
import uuid

import boto3
import psycopg
import pytest
from moto import mock_aws
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from application.settings import Settings
from local_stack.embedded_postgres import EmbeddedPostgres
from student_records.credentials import SecretsManagerPassword
from student_records.data.database import Database
from student_records.data.health import PING
from student_records.settings import DatabaseSettings
from tests.observability.stack import REPO_ROOT


class RotatingSecret:
    """Stands in for Secrets Manager: rotate() changes the stored value; the source only sees it on refresh()."""

    def __init__(self, stored: str) -> None:
        self.stored = stored
        self._cached = stored
        self.refreshes = 0

    def password(self) -> str | None:
        return self._cached

    def refresh(self) -> None:
        self.refreshes += 1
        self._cached = self.stored


@pytest.fixture(scope="module")
def password_server():
    """A server that checks passwords (scram) for everyone but its superuser."""
    scratch = REPO_ROOT / ".data" / f"test-credentials-{uuid.uuid4().hex[:8]}"
    scratch.mkdir(parents=True)
    server = EmbeddedPostgres(scratch / "data", log=lambda _: None)
    server.start()
    (scratch / "data" / "pg_hba.conf").write_text(
        "host all postgres 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 scram-sha-256\n"
    )
    with psycopg.connect(server.dsn(), autocommit=True) as admin:
        admin.execute("SELECT pg_reload_conf()")
        admin.execute("CREATE ROLE app LOGIN PASSWORD 'first-password'")
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(scratch, ignore_errors=True)


def _database(server, source) -> Database:
    # One connection only: no connection being opened in the background can slip past the test's cut.
    settings = DatabaseSettings(url=make_conninfo(server.dsn(), user="app"), pool_timeout_s=3, pool_max_size=1)
    return Database(settings, password_source=source)


def test_a_rotated_password_is_fetched_again_when_refused(password_server):
    # Given a pool connected with the first password
    secret = RotatingSecret("first-password")
    database = _database(password_server, secret)
    try:
        assert database.fetch_one(PING) == {"ok": 1}
        # When the password is rotated and the open connections are cut
        secret.stored = "second-password"
        with psycopg.connect(password_server.dsn(), autocommit=True) as admin:
            admin.execute("ALTER ROLE app PASSWORD 'second-password'")
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'app'")
            # Terminating only signals the backends; they end (closing their sockets) a moment later.
            deadline = time.monotonic() + 10
            while admin.execute("SELECT 1 FROM pg_stat_activity WHERE usename = 'app'").fetchone():
                assert time.monotonic() < deadline, "the app's backends did not end"
                time.sleep(0.01)
        # Then the next statement succeeds: the refused password was renewed, once
        assert database.fetch_one(PING) == {"ok": 1}
        assert secret.refreshes == 1
    finally:
        database.close()


class FailedAttempts(list):
    """Stands for the Database's reachability: the failed connection attempts reported to it."""

    def attempt_failed(self, error: BaseException) -> None:
        self.append(error)


def test_a_password_that_stays_wrong_is_renewed_once_per_attempt_then_refused(password_server):
    from student_records.data.database import _connection_class

    secret, failed = RotatingSecret("not-the-password"), FailedAttempts()
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        _connection_class(secret, failed).connect(make_conninfo(password_server.dsn(), user="app"), password="nope")
    # Then the password was renewed once, and the attempt reported failed once (its retry included)
    assert secret.refreshes == 1 and len(failed) == 1


def test_an_unreachable_server_does_not_renew_the_password():
    from student_records.data.database import _connection_class

    secret, failed = RotatingSecret("first-password"), FailedAttempts()
    with pytest.raises(psycopg.OperationalError):
        _connection_class(secret, failed).connect("host=127.0.0.1 port=1 user=app connect_timeout=2")
    assert secret.refreshes == 0 and len(failed) == 1


@mock_aws
def test_secrets_manager_source_reads_again_on_refresh(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    client = boto3.client("secretsmanager")
    arn = client.create_secret(Name="rds-master", SecretString='{"username": "app", "password": "one"}')["ARN"]
    source = SecretsManagerPassword(arn)
    assert (source.username(), source.password()) == ("app", "one")
    client.put_secret_value(SecretId=arn, SecretString='{"username": "app", "password": "two"}')
    assert source.password() == "one"  # cached: read once per process
    source.refresh()
    assert source.password() == "two"


@mock_aws
def test_db_secret_arn_configures_user_and_password_without_the_environment_holding_them(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    arn = boto3.client("secretsmanager").create_secret(
        Name="rds-master-2", SecretString='{"username": "master", "password": "s3cret"}'
    )["ARN"]
    settings = Settings.from_environ({"DB_HOST": "db.internal", "DB_SECRET_ARN": arn, "DB_SSLMODE": "require"}).database
    base, source = settings.connection()
    assert "s3cret" not in base and source.password() == "s3cret"
    assert conninfo_to_dict(base)["user"] == "master"
    assert "password=s3cret" in settings.conninfo()
    assert "sslmode=require" in base
