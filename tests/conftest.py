"""A real PostgreSQL server for the whole run: DATABASE_URL if set, else testcontainers where a Docker
engine answers, else the embedded server. Each test starts from empty tables."""

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# The doors the suite starts as processes of their own read their settings from the environment: deterministic
# signals (EMF written at the end of each request, every request traced, not on EC2), and a rate limit the suite
# does not reach. In-process doors get the same from tests/apps.py, never from the environment.
os.environ.setdefault("METRICS_FLUSH_INTERVAL_S", "0")
os.environ.setdefault("SIGNALS_FLUSH_INTERVAL_MS", "0")
os.environ.setdefault("XRAY_SAMPLING", "all")
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
os.environ.setdefault("RATE_LIMIT", "100000 per second")

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from application import Application
from application.settings import Settings
from observability import install, installed
from student_records.data import migrations
from student_records.data.database import Database
from student_records.settings import DatabaseSettings
from tests.apps import OBSERVABILITY, application_for, settings_for

REPO_ROOT = Path(__file__).resolve().parents[1]
# Each test's tier (unit, contract, integration, infra; slow) from where it lives.
pytest_plugins = ["tests.tiers"]


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=2).ping()
        return True
    except Exception:  # noqa: BLE001 - no engine, no socket, no permission: all mean "not here"
        return False


@pytest.fixture(scope="session", autouse=True)
def auth_keys() -> Iterator[Path]:
    """A signing key for this run; both doors trust it (AUTH_* set before any door is built)."""
    from local_stack.dev_auth import auth_environment

    key_dir = REPO_ROOT / ".data" / f"test-auth-{uuid.uuid4().hex[:8]}"
    os.environ.update(auth_environment(key_dir))
    os.environ["AUTH_KEY_DIR"] = str(key_dir)
    yield key_dir
    shutil.rmtree(key_dir, ignore_errors=True)


@pytest.fixture(autouse=True)
def restore_environment() -> Iterator[None]:
    """The Lambda door run in-process (tests/doors.py, the gateway) sets the Lambda runtime's variables
    process-wide, as a container would: a server started by a later test would inherit them and believe it
    runs in Lambda."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="session")
def server_conninfo() -> Iterator[str]:
    """Connection info for an administrative database on the server the tests use."""
    if os.environ.get("DATABASE_URL"):
        yield os.environ["DATABASE_URL"]
    elif _docker_answers():
        from testcontainers.postgres import PostgresContainer

        from infra.postgres_parameters import embedded_server_settings

        # The project's server parameters (infra/postgresql.conf), as the embedded server gets them.
        options = [option for name, value in embedded_server_settings().items() for option in ("-c", f"{name}={value}")]
        container = PostgresContainer("postgres:17-alpine", driver=None).with_command(["postgres", *options])
        with container:
            yield container.get_connection_url()
    else:
        from local_stack.embedded_postgres import EmbeddedPostgres

        # Gets the project's server parameters (infra/postgresql.conf) at start, as every embedded server does.
        # A scratch folder of its own: the server keeps a runtime folder beside its data directory.
        scratch = REPO_ROOT / ".data" / f"test-postgres-{uuid.uuid4().hex[:8]}"
        scratch.mkdir(parents=True)
        server = EmbeddedPostgres(scratch / "data", log=lambda _: None)
        server.start()
        try:
            yield server.dsn()
        finally:
            server.stop()
            shutil.rmtree(scratch, ignore_errors=True)


@contextmanager
def scratch_database(server_conninfo: str) -> Iterator[str]:
    """An empty database of its own on the test server, dropped afterwards."""
    name = f"student_records_test_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_conninfo, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_conninfo(**{**conninfo_to_dict(server_conninfo), "dbname": name})
    finally:
        with psycopg.connect(server_conninfo, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def empty_database(server_conninfo: str) -> Iterator[str]:
    with scratch_database(server_conninfo) as conninfo:
        yield conninfo


@pytest.fixture(scope="session")
def database_conninfo(server_conninfo: str) -> Iterator[str]:
    """A migrated database of its own for this run."""
    with scratch_database(server_conninfo) as conninfo:
        migrations.migrate(conninfo)
        yield conninfo


@pytest.fixture(scope="session")
def database(database_conninfo: str) -> Iterator[Database]:
    """The run's Database (one connection pool), shared by every application the tests build."""
    shared = Database(DatabaseSettings(url=database_conninfo))
    yield shared
    shared.close()


@pytest.fixture(scope="session", autouse=True)
def observability_for_tests() -> None:
    install(OBSERVABILITY)


@pytest.fixture(autouse=True)
def restore_observability() -> Iterator[None]:
    """A test that puts other observability settings in force (a collector of its own, OBSERVABILITY=off) has the
    suite's back afterwards: they are process-wide."""
    before = installed()
    yield
    if installed() is not before:
        install(before.settings)


@pytest.fixture
def settings(database_conninfo: str, auth_keys: Path) -> Settings:
    """The settings of an in-process application over the run's database (tests/apps.py)."""
    return settings_for(database_conninfo, auth_keys)


@pytest.fixture
def application(settings: Settings, database: Database) -> Application:
    """The application both in-process doors serve, over the run's database."""
    return application_for(settings, database)


@pytest.fixture(scope="session")
def session_application(database_conninfo: str, auth_keys: Path, database: Database) -> Application:
    """The same, for the fixtures that serve a door for a whole module (a gateway on a port)."""
    return application_for(settings_for(database_conninfo, auth_keys), database)


@pytest.fixture
def db(database_conninfo: str) -> Iterator[psycopg.Connection]:
    """Empty tables before each test, and a connection to look at them directly."""
    with psycopg.connect(database_conninfo, autocommit=True) as connection:
        empty_tables(connection)
        yield connection


def empty_tables(connection: psycopg.Connection) -> None:
    connection.execute(
        "TRUNCATE students, student_audit, idempotency_keys, enrollments, course_offerings, courses, terms"
        " RESTART IDENTITY"
    )
    connection.execute("ALTER SEQUENCE student_number_seq RESTART")


@pytest.fixture(scope="module")
def isolated_database():
    """A PostgreSQL server of the module's own, migrated, that its tests may stop and start."""
    from local_stack.embedded_postgres import EmbeddedPostgres

    scratch = REPO_ROOT / ".data" / f"test-isolated-{uuid.uuid4().hex[:8]}"
    scratch.mkdir(parents=True)
    server = EmbeddedPostgres(scratch / "data", log=lambda _: None)
    server.start()
    server.ensure_database("student_records")
    migrations.migrate(server.dsn("student_records"))
    try:
        yield server, scratch
    finally:
        server.stop()
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.fixture(scope="module")
def isolated_doors(isolated_database, auth_keys):
    """Both doors as real server processes over the isolated database; their stdout is captured."""
    from tests.observability.stack import DoorProcess, UdpCollector

    server, scratch = isolated_database
    collector = UdpCollector()
    started = {
        door: DoorProcess(door, server.dsn("student_records"), collector.port, scratch) for door in ("lambda", "flask")
    }
    try:
        yield started
    finally:
        for process in started.values():
            process.stop()
        collector.close()


# The bucket and object the stack's SigningKeys function writes and the doors read, in moto's S3.
SIGNING_KEYS_BUCKET, SIGNING_KEYS_OBJECT, AWS_TEST_REGION = "signing-keys-bucket", "cognito/jwks.json", "eu-west-1"


@pytest.fixture
def signing_keys_bucket(monkeypatch) -> Iterator:
    """An empty bucket in moto's S3, with the region set where the doors (AWS_REGION) and boto3 (AWS_DEFAULT_REGION)
    read it; yields the S3 client."""
    import boto3
    from moto import mock_aws

    monkeypatch.setenv("AWS_REGION", AWS_TEST_REGION)
    monkeypatch.setenv("AWS_DEFAULT_REGION", AWS_TEST_REGION)
    with mock_aws():
        client = boto3.client("s3", region_name=AWS_TEST_REGION)
        client.create_bucket(
            Bucket=SIGNING_KEYS_BUCKET, CreateBucketConfiguration={"LocationConstraint": AWS_TEST_REGION}
        )
        yield client
