"""Who a bearer token says the caller is, the claims that say it, and the two ways authentication fails: shared by
auth.py (the settings, the authenticator a process uses) and token_verifier.py (the verification itself)."""

from dataclasses import dataclass

from student_records.access import Role

from .errors import RequestError

REALM = "student-records"
SUBJECT_CLAIM = "sub"
GROUPS_CLAIM = "cognito:groups"
STUDENT_ID_CLAIM = "custom:student_id"


class Unauthenticated(RequestError):
    def __init__(self, reason: str, *, token_given: bool) -> None:
        super().__init__(reason)
        challenge = f'Bearer realm="{REALM}"'
        if token_given:
            challenge += f', error="invalid_token", error_description="{reason}"'
        self.challenge = challenge


class AuthUnavailable(Exception):
    """No token can be verified now: the settings are missing or wrong, or no signing keys could be read.
    Its text names the cause for operators (readiness, logs); clients get a generic 503."""


@dataclass(frozen=True)
class Identity:
    subject: str
    role: Role
    student_id: int | None
