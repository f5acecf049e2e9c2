"""Domain errors. They name what went wrong in domain terms; the REST contract maps them to HTTP."""


class DomainError(Exception):
    """Base class for every error the domain raises on purpose."""


class VersionMismatch(DomainError):
    """The client's expected version is stale: someone changed the record since it was read."""

    def __init__(self, expected: int, current: int) -> None:
        super().__init__(f"expected version {expected} but the record is at version {current}")
        self.expected = expected
        self.current = current


class AccessDenied(DomainError):
    """The caller is known, but their role does not allow this."""


class IdempotencyKeyReused(DomainError):
    """The same Idempotency-Key came back with a different request."""

    def __init__(self) -> None:
        super().__init__("this Idempotency-Key was used for a different request")


class InvalidCursor(DomainError):
    """A page cursor this API did not issue, or issued for other filters."""


class ConstraintViolation(DomainError):
    """The database refused a value that passed model validation (its constraints are the last word)."""

    def __init__(self, constraint: str) -> None:
        super().__init__(f"the record violates the rule {constraint}")
        self.constraint = constraint


class DatabaseUnavailable(DomainError):
    """The database could not be reached, did not answer in time, or could not complete a statement now
    (a deadlock, a lock wait): the client may retry, after `retry_after_ms` when the data layer knows better than
    the contract's default (while the database is known to be unreachable: when its probe tries again)."""

    def __init__(self, detail: str, *, retry_after_ms: int | None = None) -> None:
        super().__init__(detail)
        self.retry_after_ms = retry_after_ms


class RecordNotFound(DomainError):
    """No record of this kind (a student, course, term, offering or enrollment) with this id."""

    def __init__(self, kind: str, record_id: int) -> None:
        super().__init__(f"{kind} {record_id} does not exist")


class StudentNotFound(RecordNotFound):
    def __init__(self, student_id: int) -> None:
        super().__init__("student", student_id)


class AlreadyTaken(DomainError):
    """A value that must be unique is taken: a student's email or number, a course or term code, a course's offering
    in a term, a student's enrollment in an offering. `message` says so for the field."""

    def __init__(self, field: str, detail: str, message: str | None = None) -> None:
        super().__init__(detail)
        self.field = field
        self.message = message or detail


class DuplicateStudent(AlreadyTaken):
    """Another student already holds this unique value (email or student_number)."""

    def __init__(self, field: str) -> None:
        super().__init__(field, f"another student already has this {field}", "already taken")


class UnknownReference(DomainError):
    """The request names something that does not exist: a course, term or student id, or a grade that is
    not on the grade scale."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail)
        self.field = field


class StateConflict(DomainError):
    """The change contradicts the record as it is now (a course still offered, a dropped enrollment to
    grade, a capacity below the seats taken)."""


class OfferingFull(StateConflict):
    def __init__(self, offering_id: int) -> None:
        super().__init__(f"offering {offering_id} has no seat left")
