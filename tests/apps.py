"""The application the suite serves in-process: settings built directly (never read from the environment), one
Database shared by every application of the run, and the doors over an application."""

from pathlib import Path

from application import Application, build_application
from application.settings import CursorSettings, HttpSettings, Settings
from local_stack.dev_auth import auth_environment
from observability import ObservabilitySettings, install, installed
from rest_contract.auth import AuthSettings
from student_records.data.database import Database
from student_records.settings import DatabaseSettings

# Deterministic signals: EMF written at the end of each request, every request traced, each line written at once;
# not on EC2, so the Flask door asks the instance metadata service nothing.
OBSERVABILITY = ObservabilitySettings(
    metrics_flush_interval_s=0, signals_flush_interval_ms=0, xray_sampling="all", ec2_metadata_disabled=True
)
# The suite sends far more than a client should; the rate limit's own test sets a small one.
HTTP = HttpSettings(rate_limit="100000 per second")


def settings_for(database_url: str, key_dir: Path, **sections: object) -> Settings:
    """Settings for the test database and the run's signing key, with the observability in force (a fixture may
    have pointed traces at a collector of its own); `sections` replace whole sections."""
    defaults = {
        "database": DatabaseSettings(url=database_url),
        "auth": AuthSettings.model_validate(auth_environment(key_dir)),
        "http": HTTP,
        "cursors": CursorSettings(),
        "observability": installed().settings,
    }
    return Settings(**{**defaults, **sections})


def application_for(settings: Settings, database: Database) -> Application:
    return build_application(settings, database=database)


def observing(**changes: object) -> ObservabilitySettings:
    """Puts the observability settings in force changed by `changes` (e.g. xray_daemon_address="127.0.0.1:9"): they
    are process-wide, and the suite's come back after the test (tests/conftest.py, restore_observability)."""
    section = installed().settings.model_copy(update=changes)
    install(section)
    return section
