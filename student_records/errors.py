"""Domain errors. They name what went wrong in domain terms; the REST contract maps them to HTTP."""


class DomainError(Exception):
    """Base class for every error the domain raises on purpose."""


class StudentNotFound(DomainError):
    def __init__(self, student_id: int) -> None:
        super().__init__(f"student {student_id} does not exist")
        self.student_id = student_id


class DuplicateStudent(DomainError):
    """Another student already holds this unique value (email or student_number)."""

    def __init__(self, field: str) -> None:
        super().__init__(f"another student already has this {field}")
        self.field = field


class VersionMismatch(DomainError):
    """The client's expected version is stale: someone changed the record since it was read."""

    def __init__(self, expected: int, current: int) -> None:
        super().__init__(f"expected version {expected} but the record is at version {current}")
        self.expected = expected
        self.current = current


class AccessDenied(DomainError):
    """The caller is known, but their role does not allow this."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)


class IdempotencyKeyReused(DomainError):
    """The same Idempotency-Key came back with a different request."""

    def __init__(self) -> None:
        super().__init__("this Idempotency-Key was used for a different request")


class InvalidCursor(DomainError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)


class ConstraintViolation(DomainError):
    """The database refused a value that passed model validation (its constraints are the last word)."""

    def __init__(self, constraint: str) -> None:
        super().__init__(f"the record violates the rule {constraint}")
        self.constraint = constraint


class DatabaseUnavailable(DomainError):
    """The database could not be reached, did not answer in time, or could not complete a statement now
    (a deadlock, a lock wait): the client may retry."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)


class RecordNotFound(DomainError):
    """No course, term, offering or enrollment with this id."""

    def __init__(self, kind: str, record_id: int) -> None:
        super().__init__(f"{kind} {record_id} does not exist")


class AlreadyTaken(DomainError):
    """A value that must be unique is taken: a course or term code, a course's offering in a term, a
    student's enrollment in an offering."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail)
        self.field = field


class UnknownReference(DomainError):
    """The request names something that does not exist: a course, term or student id, or a grade that is
    not on the grade scale."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail)
        self.field = field


class StateConflict(DomainError):
    """The change contradicts the record as it is now (a course still offered, a dropped enrollment to
    grade, a capacity below the seats taken)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)


class OfferingFull(StateConflict):
    def __init__(self, offering_id: int) -> None:
        super().__init__(f"offering {offering_id} has no seat left")
