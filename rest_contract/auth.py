"""Bearer-token authentication, the same in both doors: neither trusts a header it did not verify.

Tokens are JWTs with Cognito's claims (`sub`, `cognito:groups`, `custom:student_id`), signed with a key
from a JWKS: the user pool's in AWS (AUTH_JWKS_URL), a file locally (AUTH_JWKS_FILE). Issuer, audience
(`aud` of an ID token or `client_id` of an access token) and expiry are checked (token_verifier.py).
"""

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

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


@dataclass(frozen=True)
class Identity:
    subject: str
    role: Role
    student_id: int | None


@cache
def get_authenticator() -> "Authenticator":
    """From AUTH_ISSUER, AUTH_AUDIENCE and AUTH_JWKS_URL (or AUTH_JWKS_FILE), read once per process."""
    missing = [name for name in ("AUTH_ISSUER", "AUTH_AUDIENCE") if not os.environ.get(name)]
    if missing or not (os.environ.get("AUTH_JWKS_URL") or os.environ.get("AUTH_JWKS_FILE")):
        raise RuntimeError(
            "authentication is not configured: set AUTH_ISSUER, AUTH_AUDIENCE and AUTH_JWKS_URL (or AUTH_JWKS_FILE)"
        )
    # Imported here, at the first authenticated request: PyJWT loads cryptography (~50 ms), which a
    # Lambda cold start then pays only when a request needs it (health probes never do).
    from .token_verifier import Authenticator

    jwks_file = os.environ.get("AUTH_JWKS_FILE")
    return Authenticator(
        issuer=os.environ["AUTH_ISSUER"],
        audience=os.environ["AUTH_AUDIENCE"],
        jwks_file=Path(jwks_file) if jwks_file else None,
        jwks_url=None if jwks_file else os.environ["AUTH_JWKS_URL"],
    )
