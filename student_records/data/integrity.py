"""Refusals by the database's constraints, as domain errors. Each repository says what its constraints mean (a map
from constraint name to the error to raise); any other refusal is a ConstraintViolation naming the rule: the
database's constraints are the last word on what a record may hold."""

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

import psycopg

from ..errors import ConstraintViolation, DomainError

Refusals = Mapping[str, Callable[[], DomainError]]


@contextmanager
def integrity_errors_translated(refusals: Refusals) -> Iterator[None]:
    try:
        yield
    except psycopg.errors.IntegrityError as error:  # unique, foreign key, check, not null, exclusion
        constraint = error.diag.constraint_name or error.sqlstate or "integrity"
        refusal = refusals.get(constraint)
        raise (refusal() if refusal is not None else ConstraintViolation(constraint)) from error
