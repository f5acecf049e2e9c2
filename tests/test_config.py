"""The service's settings: read from the environment once, by section; a bad value is refused in one line naming
its variable (never its value); only the settings read the environment; the README's table is generated."""

import ast
from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict

from application.config_table import render_markdown
from application.settings import Settings, variables
from student_records.data.database import trace_url
from student_records.settings import ConfigurationError, DatabaseSettings

REPO_ROOT = Path(__file__).resolve().parents[1]
APP_PACKAGES = ("student_records", "rest_contract", "handlers", "flask_backend", "observability", "application")
# What reads the environment besides the settings, and why.
ENVIRONMENT_READERS = {
    "application/settings.py": "the settings themselves",
    "flask_backend/gunicorn.conf.py": "gunicorn's own process settings (documented with the settings)",
    "observability/lambda_door.py": "the trace header the Lambda runtime sets per invocation, not a setting",
    "observability/xray_daemon.py": "daemon_address(), for the local tools that stand in for the daemon",
    "handlers/signing_keys.py": "the SigningKeys function: another Lambda function, with its own variables",
    "handlers/deployment_hooks.py": "the deployment's smoke check: another Lambda function, with its own variables",
}


def test_database_url_wins_and_gets_timeouts():
    settings = Settings.from_environ(
        {"DATABASE_URL": "postgresql://app:s3cret@db.internal:5433/records", "DB_HOST": "ignored"}
    )
    parts = conninfo_to_dict(settings.database.conninfo())
    assert parts["host"] == "db.internal" and parts["port"] == "5433" and parts["dbname"] == "records"
    assert parts["connect_timeout"] == "3"
    assert settings.database.statement_timeout_ms == 5000


def test_separate_variables_make_the_same_connection():
    settings = Settings.from_environ(
        {
            "DB_HOST": "h",
            "DB_NAME": "n",
            "DB_USER": "u",
            "DB_PASSWORD": "p",
            "DB_PORT": "6543",
            "DB_CONNECT_TIMEOUT": "7",
        }
    )
    assert conninfo_to_dict(settings.database.conninfo()) == {
        "host": "h",
        "port": "6543",
        "dbname": "n",
        "user": "u",
        "password": "p",
        "connect_timeout": "7",
        "application_name": "student-records",
    }


def test_the_password_is_kept_apart_and_traces_name_no_credentials():
    settings = DatabaseSettings(url="postgresql://app:s3cret@db/records")
    base, password = settings.connection()
    assert "s3cret" not in base and password.password() == "s3cret"
    assert trace_url(base) == "postgresql://db:5432/records"
    assert "s3cret" in settings.conninfo()
    assert "s3cret" not in repr(settings)


def test_nothing_configured_says_what_to_set():
    with pytest.raises(ConfigurationError, match="DATABASE_URL"):
        Settings.from_environ({}).database.connection()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DB_STATEMENT_TIMEOUT_MS", "0"),
        ("DB_STATEMENT_TIMEOUT_MS", "-5"),
        ("DB_STATEMENT_TIMEOUT_MS", "many"),
        ("DB_POOL_TIMEOUT_S", "soon"),
        ("READ_AUDIT_COMMIT", "lazy"),
        ("MAX_BODY_BYTES", "0"),
        ("LOG_LEVEL", "loud"),
        ("OBSERVABILITY", "maybe"),
        ("XRAY_SAMPLING", "some"),
        ("AWS_XRAY_DAEMON_ADDRESS", "no-port"),
        ("EMF_AGENT_ENDPOINT", "tcp://agent:25888"),
        ("TRUSTED_PROXY_HOPS", "-1"),
    ],
)
def test_a_bad_value_is_refused_in_one_line_naming_its_variable(variable, value):
    with pytest.raises(ConfigurationError) as refused:
        Settings.from_environ({variable: value})
    message = str(refused.value)
    assert variable in message and "\n" not in message


def test_a_short_cursor_signing_key_is_refused_without_showing_it():
    with pytest.raises(ConfigurationError, match="CURSOR_SIGNING_KEY") as refused:
        Settings.from_environ({"CURSOR_SIGNING_KEY": "secret-but-short"})
    assert "secret-but-short" not in str(refused.value)


def test_a_pool_smaller_than_its_minimum_is_refused_naming_both():
    with pytest.raises(ConfigurationError, match="DB_POOL_MAX_SIZE must be at least DB_POOL_MIN_SIZE"):
        Settings.from_environ({"DB_POOL_MIN_SIZE": "5", "DB_POOL_MAX_SIZE": "4"})


def test_an_empty_variable_counts_as_unset():
    assert Settings.from_environ({"DB_PORT": "", "LOG_LEVEL": ""}) == Settings.from_environ({})


def test_each_section_reads_its_variables_and_no_other():
    settings = Settings.from_environ(
        {
            "AWS_REGION": "eu-west-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "OBSERVABILITY": "off",
            "RATE_LIMIT": "5 per second",
            "PATH": "/usr/bin",
            "UNRELATED": "x",
        }
    )
    assert settings.database.region == settings.auth.region == "eu-west-1"
    assert settings.observability.enabled is False and settings.http.rate_limit == "5 per second"
    # And a section built directly reads nothing from the environment, whatever it holds
    assert DatabaseSettings().url is None


def test_only_the_settings_read_the_environment():
    # Given every module of the app packages
    readers = {}
    for package in APP_PACKAGES:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            relative = str(path.relative_to(REPO_ROOT))
            tree = ast.parse(path.read_text(encoding="utf-8"))
            # When any of them names os.environ or os.getenv
            if any(
                isinstance(node, ast.Attribute)
                and node.attr in ("environ", "getenv")
                and isinstance(node.value, ast.Name)
                and node.value.id == "os"
                for node in ast.walk(tree)
            ):
                readers[relative] = ENVIRONMENT_READERS.get(relative)
    # Then it is the settings, or a reader with a reason
    assert {path: reason for path, reason in readers.items() if reason is None} == {}


def test_every_variable_is_in_the_readme_table():
    table = render_markdown()
    for field in Settings.model_fields.values():
        for name in variables(field.annotation):
            assert f"`{name}`" in table, name


def test_every_setting_says_what_it_means():
    from application.config_table import _SECTIONS, descriptions

    for _, section in _SECTIONS:
        assert set(descriptions(section)) == set(section.model_fields), section.__name__
