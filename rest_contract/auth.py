"""Bearer-token authentication, the same in both doors: neither trusts a header it did not verify.

Tokens are JWTs with Cognito's claims (identity.py), signed with a key from a JWKS: in AWS, the user pool's, copied
to an S3 object by handlers/signing_keys.py (AUTH_JWKS_URL=s3://bucket/key), or read from the pool's own URL
(AUTH_JWKS_URL=https://...); locally, a file (AUTH_JWKS_FILE). Issuer, audience (`aud` of an ID token or
`client_id` of an access token) and expiry are checked (token_verifier.py). Without settings, or without keys,
protected routes answer 503, never 500: a process starts whatever its auth settings, and readiness names them.
"""

import threading
from pathlib import Path
from typing import Protocol

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from observability import logger

from .identity import AuthUnavailable, Identity


class AuthSettings(BaseModel):
    """The auth section of the service's settings."""

    # Built at first use, not at import (a Lambda cold start); each field's docstring is its description, which the
    # README's table is generated from (application/config_table.py).
    model_config = ConfigDict(
        frozen=True, extra="forbid", validate_by_name=True, validate_by_alias=True, defer_build=True
    )

    issuer: str | None = Field(None, validation_alias="AUTH_ISSUER")
    """the token issuer (`iss`) to accept; set by `make run`"""
    audience: str | None = Field(None, validation_alias="AUTH_AUDIENCE")
    """the app client (`aud` or `client_id`) to accept; set by `make run`"""
    jwks_file: Path | None = Field(None, validation_alias="AUTH_JWKS_FILE")
    """the signing keys (a JWKS) in a file: what `make run` sets; exactly one of it and `AUTH_JWKS_URL`"""
    jwks_url: str | None = Field(None, validation_alias="AUTH_JWKS_URL")
    """the signing keys at `s3://bucket/key` (in AWS: the copy of the user pool's JWKS the stack keeps current) or
    `https://`; without keys, protected routes answer 503 and readiness fails naming `auth`"""
    region: str | None = Field(None, validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION"))
    """the region of an `s3://` `AUTH_JWKS_URL`; set by Lambda"""

    def problems(self) -> list[str]:
        """What keeps tokens from being verified, each naming the variable to fix (none when configured)."""
        problems = [
            f"{name} is not set"
            for name, value in (("AUTH_ISSUER", self.issuer), ("AUTH_AUDIENCE", self.audience))
            if not value
        ]
        if (self.jwks_file is None) == (self.jwks_url is None):
            problems.append("set exactly one of AUTH_JWKS_FILE and AUTH_JWKS_URL")
        elif self.jwks_url is not None and not self.jwks_url.startswith(("https://", "s3://")):
            problems.append("AUTH_JWKS_URL must start with https:// or s3://")
        elif self.jwks_url is not None and self.jwks_url.startswith("s3://"):
            bucket, _, key = self.jwks_url.removeprefix("s3://").partition("/")
            if not bucket or not key:
                problems.append("AUTH_JWKS_URL must name an object: s3://bucket/key")
            if not self.region:
                problems.append("AWS_REGION (or AWS_DEFAULT_REGION) is not set, and the s3:// AUTH_JWKS_URL needs it")
        return problems


class Authenticating(Protocol):
    def identify(self, authorization: str | None) -> Identity:
        """The verified identity of the Authorization header's bearer token; Unauthenticated, AccessDenied (no
        role), or AuthUnavailable."""

    def check(self) -> str:
        """For readiness: the signing keys held (read now if need be); AuthUnavailable when there are none."""


class NotConfigured:
    """Stands in for the Authenticator when the settings are wrong: every protected route answers 503."""

    def __init__(self, reason: str) -> None:
        self._reason = reason

    def identify(self, authorization: str | None) -> Identity:
        raise AuthUnavailable(self._reason)

    def check(self) -> str:
        raise AuthUnavailable(self._reason)


def build_authenticator(settings: AuthSettings) -> Authenticating:
    """The authenticator of a process; when the settings are wrong, the warning is logged here, once."""
    problems = settings.problems()
    if problems:
        reason = f"authentication is not configured: {'; '.join(problems)}"
        logger.warning(f"{reason}; every route but /health* answers 503")
        return NotConfigured(reason)
    return _BuiltAtFirstUse(settings)


class _BuiltAtFirstUse:
    """The Authenticator, built when a request first needs it: PyJWT loads cryptography (~50 ms), which a Lambda
    cold start then pays only when a request needs it (liveness probes never do)."""

    def __init__(self, settings: AuthSettings) -> None:
        self._settings = settings
        self._authenticator: Authenticating | None = None
        self._lock = threading.Lock()

    def identify(self, authorization: str | None) -> Identity:
        return (self._authenticator or self._build()).identify(authorization)

    def check(self) -> str:
        return (self._authenticator or self._build()).check()

    def _build(self) -> Authenticating:
        with self._lock:
            if self._authenticator is None:
                from .token_verifier import Authenticator, SigningKeys, jwks_reader

                settings = self._settings
                keys = SigningKeys(
                    jwks_reader(jwks_file=settings.jwks_file, jwks_url=settings.jwks_url, region=settings.region)
                )
                self._authenticator = Authenticator(
                    issuer=str(settings.issuer), audience=str(settings.audience), keys=keys
                )
            return self._authenticator
