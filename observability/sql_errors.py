"""Whose fault a failed statement is: the one rule that both the metrics (DbQueryErrors) and the traces (`error` or
`fault` on the statement's subsegment) follow."""

_CHAIN_LIMIT = 10


def sqlstate_of(error: BaseException) -> str | None:
    """The SQLSTATE of the driver error behind `error`: its own, or that of the first exception in its chain of causes
    that has one (the data layer raises domain errors `from` the driver's, e.g. ConstraintViolation from DataError)."""
    current: BaseException | None = error
    for _ in range(_CHAIN_LIMIT):
        if current is None:
            return None
        sqlstate = getattr(current, "sqlstate", None)
        if sqlstate:
            return str(sqlstate)
        current = cause_of(current)
    return None


def cause_of(error: BaseException) -> BaseException | None:
    """The exception Python's traceback names as the cause of `error` (explicit `from`, else the one being handled)."""
    if error.__cause__ is not None:
        return error.__cause__
    return None if error.__suppress_context__ else error.__context__


def caused_by_client(error: BaseException) -> bool:
    """SQLSTATE classes 22 (data exception) and 23 (integrity constraint violation): the database refused the
    client's data (a duplicate email, a value too long for its column). The client hears 409 or 422 and ClientErrors
    counts it; the statement's subsegment is an `error`. Anything else is on the service's side, DbQueryErrors counts
    it and the subsegment is a `fault`: no SQLSTATE (the connection was lost), a deadlock, a timeout."""
    sqlstate = sqlstate_of(error)
    return sqlstate is not None and sqlstate[:2] in ("22", "23")
