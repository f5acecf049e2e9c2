"""Bearer-token authentication, the same in both doors: neither trusts a header it did not verify.

Tokens are JWTs with Cognito's claims (`sub`, `cognito:groups`, `custom:student_id`), signed with a key
from a JWKS: in AWS, the user pool's, copied to an S3 object by handlers/signing_keys.py
(AUTH_JWKS_URL=s3://bucket/key), or read from the pool's own URL (AUTH_JWKS_URL=https://...); locally, a
file (AUTH_JWKS_FILE). Issuer, audience (`aud` of an ID token or `client_id` of an access token) and expiry
are checked (token_verifier.py). Without settings, or without keys, protected routes answer 503, never 500.
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from observability.logs import logger
from student_records.access import Role

from .errors import RequestError

if TYPE_CHECKING:
    from .token_verifier import Authenticator

REALM = "student-records"
STUDENT_ID_CLAIM = "custom:student_id"
GROUPS_CLAIM = "cognito:groups"


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


@dataclass(frozen=True)
class AuthSettings:
    issuer: str
    audience: str
    jwks_file: Path | None  # exactly one of jwks_file and jwks_url
    jwks_url: str | None  # https://... or s3://bucket/key
    region: str | None  # for an s3:// jwks_url


def auth_settings(environ: Mapping[str, str] = os.environ) -> AuthSettings:
    """The one place the settings of authentication are read; AuthUnavailable names every variable to fix."""
    problems = [f"{name} is not set" for name in ("AUTH_ISSUER", "AUTH_AUDIENCE") if not environ.get(name)]
    jwks_file, jwks_url = environ.get("AUTH_JWKS_FILE"), environ.get("AUTH_JWKS_URL")
    region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
    if bool(jwks_file) == bool(jwks_url):
        problems.append("set exactly one of AUTH_JWKS_FILE and AUTH_JWKS_URL")
    elif jwks_url and not jwks_url.startswith(("https://", "s3://")):
        problems.append("AUTH_JWKS_URL must start with https:// or s3://")
    elif jwks_url and jwks_url.startswith("s3://"):
        bucket, _, key = jwks_url.removeprefix("s3://").partition("/")
        if not bucket or not key:
            problems.append("AUTH_JWKS_URL must name an object: s3://bucket/key")
        if not region:
            problems.append("AWS_REGION (or AWS_DEFAULT_REGION) is not set, and the s3:// AUTH_JWKS_URL needs it")
    if problems:
        raise AuthUnavailable(f"authentication is not configured: {'; '.join(problems)}")
    return AuthSettings(
        issuer=environ["AUTH_ISSUER"],
        audience=environ["AUTH_AUDIENCE"],
        jwks_file=Path(jwks_file) if jwks_file else None,
        jwks_url=jwks_url or None,
        region=region,
    )


class NotConfigured:
    """Stands in for the Authenticator when the settings are wrong: every protected route answers 503."""

    def __init__(self, reason: str) -> None:
        self._reason = reason

    def identify(self, authorization: str | None) -> Identity:
        raise AuthUnavailable(self._reason)

    def check(self) -> str:
        raise AuthUnavailable(self._reason)


@cache
def get_authenticator() -> "Authenticator | NotConfigured":
    """Built once per process from auth_settings(); when they are wrong, the warning is logged once here."""
    try:
        settings = auth_settings()
    except AuthUnavailable as problem:
        logger.warning(f"{problem}; every route but /health* answers 503")
        return NotConfigured(str(problem))
    # Imported here, not at module import: PyJWT loads cryptography (~50 ms), which a Lambda cold start then
    # pays only when a request needs it (liveness probes never do).
    from .token_verifier import Authenticator

    return Authenticator.from_settings(settings)

