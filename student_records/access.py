"""Who is asking, and what each role may do with student records (FERPA: legitimate interest only)."""

from dataclasses import dataclass
from enum import StrEnum

from .errors import AccessDenied, RecordNotFound, StudentNotFound


class Role(StrEnum):
    ADMIN = "admin"  # everything, the audit trail included
    REGISTRAR = "registrar"  # reads and writes student records and academic records
    TEACHER = "teacher"  # reads directory fields only; rosters and grades of the offerings they teach
    STUDENT = "student"  # reads their own record and transcript, and the course catalogue


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


# Academic records: the catalogue (courses, terms, offerings, the grade scale) is open to every role;
# registrars manage it and the enrollments; teachers see and grade the offerings they teach.
_ACADEMIC_MANAGERS = {Role.ADMIN, Role.REGISTRAR}


def require_academic_manager(caller: Caller) -> None:
    if caller.role not in _ACADEMIC_MANAGERS:
        raise AccessDenied(f"the {caller.role} role cannot manage courses, terms, offerings or enrollments")


def require_grading_role(caller: Caller) -> None:
    """Before looking the enrollment up: students never grade."""
    if caller.role not in _ACADEMIC_MANAGERS and caller.role is not Role.TEACHER:
        raise AccessDenied(f"the {caller.role} role cannot read rosters or record grades")


def require_teacher_of(caller: Caller, teacher_sub: str) -> None:
    """Rosters and grades of an offering: its own teacher, or a registrar."""
    require_grading_role(caller)
    if caller.role is Role.TEACHER and caller.subject != teacher_sub:
        raise AccessDenied("teachers see and grade only the offerings they teach")


def require_enrollment_reader(caller: Caller, enrollment_id: int, teacher_sub: str, student_id: int) -> None:
    """Registrars, the offering's teacher, and the enrolled student. Another student gets 404, as for
    student records; another teacher gets 403."""
    if caller.role is Role.STUDENT:
        if caller.student_id != student_id:
            raise RecordNotFound("enrollment", enrollment_id)
        return
    require_teacher_of(caller, teacher_sub)


def require_transcript_reader(caller: Caller, student_id: int) -> None:
    """Registrars, and the student whose transcript it is (anyone else's is a 404, as for student records)."""
    if caller.role in _ACADEMIC_MANAGERS:
        return
    if caller.role is Role.STUDENT:
        if caller.student_id != student_id:
            raise StudentNotFound(student_id)
        return
    raise AccessDenied(f"the {caller.role} role cannot read transcripts")
