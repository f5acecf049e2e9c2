"""DbQueryErrors counts the statements that failed for a reason on-call must look at, not the client's data."""

import json

import pytest

from observability import install, installed, observe_statement
from observability.catalog import DB_QUERY_ERRORS, DB_QUERY_LATENCY


class DriverError(Exception):
    def __init__(self, sqlstate: str | None) -> None:
        super().__init__("a driver error")
        self.sqlstate = sqlstate


class _Statements:
    """The statements' metrics, as the EMF documents written when they are flushed carry them."""

    def __init__(self) -> None:
        self.documents: list[dict] = []
        self.observability = install(
            installed().settings, metrics_sink=lambda line: self.documents.append(json.loads(line))
        )

    def __iter__(self):
        self.observability.flush()
        return iter([document for document in self.documents if "QueryName" in document])


@pytest.fixture
def recorded():
    return _Statements()


@pytest.mark.parametrize(
    ("sqlstate", "counted"),
    [
        ("23505", 0),  # unique violation: a duplicate email, answered 409
        ("23514", 0),  # check violation, answered 422
        ("22001", 0),  # data exception: a value too long for its column
        ("40P01", 1),  # deadlock
        ("57014", 1),  # statement timeout
        (None, 1),  # the connection was lost
    ],
)
def test_a_failed_statement_counts_unless_the_clients_data_was_refused(recorded, sqlstate, counted):
    with pytest.raises(DriverError), observe_statement("students.insert", "SQL", "url", "user"):
        raise DriverError(sqlstate)
    (values,) = recorded
    assert values[DB_QUERY_ERRORS.name] == counted
    assert values[DB_QUERY_LATENCY.name] >= 0


def test_a_statement_that_succeeds_counts_zero(recorded):
    with observe_statement("students.get", "SQL", "url", "user"):
        pass
    assert next(iter(recorded))[DB_QUERY_ERRORS.name] == 0


class ConstraintViolation(Exception):
    """As the data layer raises it from a class 22 driver error (student_records/data/database.py)."""


@pytest.mark.parametrize(("sqlstate", "counted"), [("22001", 0), ("23505", 0), ("40P01", 1), (None, 1)])
def test_a_domain_error_raised_from_the_drivers_is_classified_by_the_drivers_sqlstate(recorded, sqlstate, counted):
    # PT012: the exception is raised inside observe_statement, the code under test
    with pytest.raises(ConstraintViolation), observe_statement("students.insert", "SQL", "url", "u"):  # noqa: PT012
        try:
            raise DriverError(sqlstate)
        except DriverError as error:
            raise ConstraintViolation("the record violates a rule") from error
    (values,) = recorded
    assert values[DB_QUERY_ERRORS.name] == counted
