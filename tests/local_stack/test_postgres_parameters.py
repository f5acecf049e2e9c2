"""infra/postgresql.conf: the committed file parses, splits between RDS and the embedded server by its markers,
and every embedded server runs with it, including one started by tests/conftest.py, one on a data directory
from before the file existed, and one already running when start() is called."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from infra import postgres_parameters
from infra.postgres_parameters import ParameterFileError, Scope
from local_stack.embedded_postgres import PARAMETERS_CONF, EmbeddedPostgres

REPO_ROOT = Path(__file__).resolve().parents[2]
# What keeps student data out of the database's log, on both servers (docs/security.md).
PRIVACY = {"log_error_verbosity": "terse", "log_min_error_statement": "panic", "log_statement": "none"}
# A second guard on bound values, where it can be set (RDS does not document it: see the file).
BOUND_VALUES = {"log_parameter_max_length": "0", "log_parameter_max_length_on_error": "0"}


def test_the_committed_file_parses_with_a_reason_for_every_setting():
    # When the committed file is loaded
    parameters = postgres_parameters.load()

    # Then every setting has a reason, a string value, and the privacy settings apply to both servers
    assert parameters and all(p.why and isinstance(p.value, str) for p in parameters)
    both = {p.name: p.value for p in parameters if p.scope is Scope.BOTH}
    assert both.items() >= PRIVACY.items()
    assert int(both["log_min_duration_statement"]) > 0


def test_rds_gets_the_rds_only_lines_and_not_the_local_only_ones():
    # Given the committed file's settings by scope
    parameters = postgres_parameters.load()
    rds_only = {p.name for p in parameters if p.scope is Scope.RDS_ONLY}
    local_only = {p.name for p in parameters if p.scope is Scope.LOCAL_ONLY}

    # When the two sets are taken
    rds = postgres_parameters.rds_parameters()
    embedded = postgres_parameters.embedded_server_settings()

    # Then RDS gets its own lines and the shared ones, never the local-only ones, all as strings
    assert rds["rds.force_ssl"] == "1" and "rds.force_ssl" in rds_only
    assert "log_line_prefix" in local_only and "log_line_prefix" not in rds
    assert rds_only <= rds.keys() and not local_only & rds.keys()
    assert local_only <= embedded.keys() and not rds_only & embedded.keys()
    assert rds.items() >= PRIVACY.items() and embedded.items() >= (PRIVACY | BOUND_VALUES).items()
    assert all(isinstance(value, str) for value in rds.values())


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("# why\nlog_statement none\n", 2, "expected `name = value`"),
        ("# why\nlog_line_prefix = '%m \n", 2, "expected `name = value`"),
        ("# why\nlog_statement = none extra\n", 2, "expected `name = value`"),
        ("# why\nlog_statement = none  # rds_only\n", 2, "the only comments allowed"),
        ("# why\nlog_statement = none\n\nlog_connections = 1\n", 4, "needs a one-line `# why` comment"),
        ("# why\nlog_statement = none\n# why\nlog_statement = all\n", 4, "already set on line 2"),
        ("# why\ninclude 'more.conf'\n", 2, "include directives are not supported"),
        ("# why\nlog_line_prefix = '%m\\n'\n", 2, "unsupported escape"),
    ],
)
def test_unknown_syntax_is_refused_naming_the_line(text, line, reason):
    # When a file with that line is parsed
    # Then it is refused, naming the file, the line and why
    with pytest.raises(ParameterFileError, match=rf"^f\.conf:{line}: .*{re.escape(reason)}"):
        postgres_parameters.parse(text, source="f.conf")


def test_markers_and_quoted_values_are_read_as_postgresql_does():
    # Given lines with quoted values and both markers
    text = (
        "# a reason\nlog_line_prefix = '%m [%p] it''s \\'quoted\\' \\\\ # not a comment'  # local-only\n"
        "# another\nrds.force_ssl=1 # rds-only\n"
    )

    # When they are parsed
    prefix, force_ssl = postgres_parameters.parse(text)

    # Then the values are unquoted, the scopes read, and the reasons kept
    assert prefix.value == "%m [%p] it's 'quoted' \\ # not a comment"
    assert (prefix.scope, force_ssl.scope, force_ssl.value) == (Scope.LOCAL_ONLY, Scope.RDS_ONLY, "1")
    assert (prefix.why, prefix.line, force_ssl.line) == ("a reason", 2, 4)


def test_rendered_settings_read_back_unchanged():
    # Given settings with characters that need quoting
    settings = {**postgres_parameters.embedded_server_settings(), "custom.value": "it's a \\ path # here"}

    # When they are rendered as postgresql.conf lines and read back (each given a reason)
    rendered = postgres_parameters.conf_text(settings, header="generated")
    with_reasons = "".join(f"# reason\n{line}\n" for line in rendered.splitlines() if not line.startswith("#"))

    # Then nothing changed
    assert {p.name: p.value for p in postgres_parameters.parse(with_reasons)} == settings


def test_a_server_started_by_the_test_fixtures_runs_with_the_parameters(isolated_database):
    # Given the embedded server tests/conftest.py starts
    server, _ = isolated_database

    # When it is asked for its settings
    with psycopg.connect(server.dsn()) as connection:
        shown = {name: connection.execute(f"SHOW {name}").fetchone()[0] for name in PRIVACY | BOUND_VALUES}
        settings = {
            name: row
            for name, *row in connection.execute(
                "SELECT name, source, sourcefile, vartype FROM pg_settings WHERE name = ANY(%s)",
                (list(postgres_parameters.embedded_server_settings()),),
            )
        }

    # Then it reports the privacy values, and takes every embedded setting from the file written from infra/
    assert shown == PRIVACY | BOUND_VALUES
    assert settings.keys() == postgres_parameters.embedded_server_settings().keys()
    for name, (source, source_file, _) in settings.items():
        assert (source, Path(source_file).name) == ("configuration file", PARAMETERS_CONF), name
    # And the values shared with RDS are written as an RDS parameter group accepts them: booleans 1/0, no units
    for parameter in postgres_parameters.load():
        if parameter.scope is Scope.BOTH and settings[parameter.name][2] == "bool":
            assert parameter.value in {"0", "1"}, parameter.name
        if parameter.scope is Scope.BOTH and settings[parameter.name][2] in {"integer", "real"}:
            assert re.fullmatch(r"-?\d+(\.\d+)?", parameter.value), parameter.name


@pytest.fixture
def servers(data_dir: Path) -> Iterator[list[EmbeddedPostgres]]:
    """Servers of the test, all on data_dir; whatever runs there is stopped afterwards."""
    started: list[EmbeddedPostgres] = []
    yield started
    for server in started:
        server.stop()


def test_a_data_directory_from_before_the_parameters_gets_them_at_its_next_start(data_dir, servers):
    # Given a data directory as one initialised before infra/postgresql.conf: no include, no generated file
    server = EmbeddedPostgres(data_dir, log=lambda _: None)
    servers.append(server)
    server.start()
    server.stop()
    main_conf = data_dir / "postgresql.conf"
    main_conf.write_text(main_conf.read_text().split("\n# The project's server parameters")[0] + "\n")
    (data_dir / PARAMETERS_CONF).unlink()
    assert PARAMETERS_CONF not in main_conf.read_text()

    # When it starts again, twice
    server.start()
    server.stop()
    server.start()

    # Then it runs with the parameters, included once, from a file a developer can read
    assert _setting(server, "log_error_verbosity") == "terse"
    assert main_conf.read_text().count(f"include = '{PARAMETERS_CONF}'") == 1
    assert "edit that file, not this one" in (data_dir / PARAMETERS_CONF).read_text()


def test_a_running_server_with_outdated_parameters_reloads_them_when_reused(data_dir, servers):
    # Given a running server whose parameters file was outdated and loaded
    log_lines: list[str] = []
    first = EmbeddedPostgres(data_dir, log=lambda _: None)
    servers.append(first)
    first.start()
    (data_dir / PARAMETERS_CONF).write_text("log_error_verbosity = 'verbose'\n")
    first._reload_configuration()
    assert _setting(first, "log_error_verbosity") == "verbose"

    # When another process's start() reuses it
    second = EmbeddedPostgres(data_dir, log=log_lines.append)
    servers.append(second)
    second.start()

    # Then new sessions get the parameters of infra/postgresql.conf at once, and the reload is reported
    assert _setting(second, "log_error_verbosity") == "terse"
    assert any("reloaded its configuration" in line for line in log_lines)


def _setting(server: EmbeddedPostgres, name: str) -> str:
    with psycopg.connect(server.dsn()) as connection:
        return connection.execute(f"SHOW {name}").fetchone()[0]
