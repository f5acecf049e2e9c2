"""Who is asking, and what each role may do with student records (FERPA: legitimate interest only)."""

from dataclasses import dataclass
from enum import StrEnum

from .errors import AccessDenied, StudentNotFound


class Role(StrEnum):
    ADMIN = "admin"  # everything, the audit trail included
    REGISTRAR = "registrar"  # reads and writes student records
    TEACHER = "teacher"  # reads directory fields only: name, student_number, status
    STUDENT = "student"  # reads their own record only


# A caller in several groups acts with the strongest role among them.
ROLE_PRECEDENCE = (Role.ADMIN, Role.REGISTRAR, Role.TEACHER, Role.STUDENT)
_WRITERS = {Role.ADMIN, Role.REGISTRAR}
_FULL_READERS = {Role.ADMIN, Role.REGISTRAR}
_DIRECTORY_READERS = {Role.ADMIN, Role.REGISTRAR, Role.TEACHER}


@dataclass(frozen=True)
class Caller:
    subject: str  # the identity provider's stable user id (Cognito `sub`)
    role: Role
    correlation_id: str
    student_id: int | None = None  # for students: the record that is theirs


def require_writer(caller: Caller) -> None:
    if caller.role not in _WRITERS:
        raise AccessDenied(f"the {caller.role} role cannot change student records")


def require_directory_reader(caller: Caller) -> None:
    if caller.role not in _DIRECTORY_READERS:
        raise AccessDenied(f"the {caller.role} role cannot list students")


def require_admin(caller: Caller) -> None:
    if caller.role is not Role.ADMIN:
        raise AccessDenied("only admins can read the audit trail")


def sees_full_records(caller: Caller) -> bool:
    return caller.role in _FULL_READERS


def may_see_full_record(caller: Caller, student_id: int) -> bool:
    """True: the whole record; False: directory fields only. Students read only their own record: for
    anyone else's the answer is 404, so that whether a record exists does not leak."""
    if caller.role in _FULL_READERS:
        return True
    if caller.role is Role.TEACHER:
        return False
    if caller.student_id == student_id:
        return True
    raise StudentNotFound(student_id)
