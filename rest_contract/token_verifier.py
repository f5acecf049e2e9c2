"""Verification of a bearer token's signature and claims (PyJWT), with verified tokens cached until expiry,
against signing keys read from a file, an HTTPS URL or an S3 object and kept fresh (SigningKeys)."""

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt

from observability import exception_fields, logger
from student_records.access import ROLE_PRECEDENCE
from student_records.errors import AccessDenied

from .identity import GROUPS_CLAIM, STUDENT_ID_CLAIM, SUBJECT_CLAIM, AuthUnavailable, Identity, Unauthenticated

ALGORITHMS = ["RS256"]
CLOCK_SKEW_S = 30
VERIFIED_CACHE_SIZE = 1024
KEYS_MAX_AGE_S = 3600
MIN_READ_INTERVAL_S = 60
FETCH_TIMEOUT_S = 3


class SigningKeys:
    """A JWKS read from its source and kept. Read again when it is an hour old, or when a token names a key id
    not held (a rotated key), but at most once a minute, so that a flood of forged key ids is not a flood of
    reads. A failed read keeps the keys already held; with none ever read, AuthUnavailable."""

    def __init__(self, read: Callable[[], dict[str, Any]], *, clock: Callable[[], float] = time.monotonic) -> None:
        self._read = read
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, jwt.PyJWK] = {}  # replaced whole, never changed in place
        self._read_at: float | None = None
        self._tried_at: float | None = None
        self._failure = "not read yet"

    def key(self, kid: str) -> jwt.PyJWK | None:
        keys, read_at = self._keys, self._read_at
        if kid in keys and read_at is not None and self._clock() - read_at < KEYS_MAX_AGE_S:
            return keys[kid]  # the usual case, without waiting for the lock (and a read under it)
        return self.held(wanted=kid).get(kid)

    def held(self, wanted: str | None = None) -> dict[str, jwt.PyJWK]:
        with self._lock:
            now = self._clock()
            missing = wanted is not None and wanted not in self._keys
            stale = self._read_at is None or now - self._read_at >= KEYS_MAX_AGE_S
            tried_lately = self._tried_at is not None and now - self._tried_at < MIN_READ_INTERVAL_S
            if (missing or stale) and not tried_lately:
                self._tried_at = now
                self._read_now(now)
            if not self._keys:
                raise AuthUnavailable(f"no signing keys could be read: {self._failure}")
            return self._keys

    def _read_now(self, now: float) -> None:
        try:
            keys = {key.key_id: key for key in jwt.PyJWKSet.from_dict(self._read()).keys if key.key_id}
            if not keys:
                raise ValueError("no key of the JWKS has a key id")
        except Exception as error:  # noqa: BLE001 - whatever failed (network, S3, document), the keys held stay good
            self._failure = type(error).__name__
            logger.warning("signing keys could not be read; the keys held are kept", extra=exception_fields(error))
            return
        self._keys, self._read_at = keys, now
        logger.info("signing keys read", extra={"key_ids": sorted(keys)})


def jwks_reader(
    *, jwks_file: Path | None = None, jwks_url: str | None = None, region: str | None = None
) -> Callable[[], dict[str, Any]]:
    """How to read the JWKS document in a file, or at an https:// or s3:// URL (`region`: the bucket's)."""
    if jwks_file is not None:
        return lambda: json.loads(jwks_file.read_text())
    if jwks_url is None:
        raise ValueError("name a JWKS file or URL")
    if jwks_url.startswith("s3://"):
        return S3Object(jwks_url, region).read_json
    return jwt.PyJWKClient(jwks_url, cache_jwk_set=False, timeout=FETCH_TIMEOUT_S).fetch_data


class S3Object:
    """An s3://bucket/key object, read through the VPC's S3 gateway endpoint in AWS."""

    def __init__(self, uri: str, region: str | None) -> None:
        self.bucket, _, self.key = uri.removeprefix("s3://").partition("/")
        self._region = region
        self._client: Any = None  # boto3's S3 client, untyped

    def read_json(self) -> dict[str, Any]:
        if self._client is None:
            # Imported at the first read, not at import: boto3 costs a Lambda cold start ~200 ms.
            import boto3
            from botocore.config import Config

            config = Config(
                connect_timeout=FETCH_TIMEOUT_S, read_timeout=FETCH_TIMEOUT_S, retries={"total_max_attempts": 2}
            )
            self._client = boto3.client("s3", region_name=self._region, config=config)
        document: dict[str, Any] = json.loads(self._client.get_object(Bucket=self.bucket, Key=self.key)["Body"].read())
        return document


class Authenticator:
    def __init__(self, *, issuer: str, audience: str, keys: SigningKeys) -> None:
        self._issuer = issuer
        self._audience = audience
        self._keys = keys
        self._verified: dict[str, tuple[Identity, float]] = {}
        self._verified_lock = threading.Lock()

    def check(self) -> str:
        """For readiness: the keys held, read now when none are (raises AuthUnavailable when none can be)."""
        return f"signing keys {', '.join(sorted(self._keys.held()))}"

    def identify(self, authorization: str | None) -> Identity:
        if not authorization:
            raise Unauthenticated("a bearer token is required", token_given=False)
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("use the Bearer scheme", token_given=False)
        token = token.strip()
        # A signature check costs ~75 µs; a token already verified stays valid until it expires.
        cached = self._verified.get(token)
        if cached is not None and cached[1] > time.time():
            return cached[0]
        claims = self._verified_claims(token)
        groups = claims.get(GROUPS_CLAIM) or []
        role = next((role for role in ROLE_PRECEDENCE if isinstance(groups, list) and role.value in groups), None)
        if role is None:
            raise AccessDenied("the token grants none of the roles admin, registrar, teacher or student")
        identity = Identity(subject=claims[SUBJECT_CLAIM], role=role, student_id=_student_id(claims))
        # Two threads evicting at once would both pick the same oldest entry.
        with self._verified_lock:
            if len(self._verified) >= VERIFIED_CACHE_SIZE:
                self._verified.pop(next(iter(self._verified)))  # the oldest entry
            self._verified[token] = (identity, float(claims["exp"]))
        return identity

    def _verified_claims(self, token: str) -> dict[str, Any]:
        try:
            key = self._signing_key(token)
            claims = jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                issuer=self._issuer,
                leeway=CLOCK_SKEW_S,
                options={"require": ["exp", "iat", "iss", "sub"], "verify_aud": False},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the token has expired", token_given=True) from None
        except (jwt.PyJWTError, ValueError):
            raise Unauthenticated("the token is not valid", token_given=True) from None
        # Cognito ID tokens carry the app client in `aud`, access tokens in `client_id`.
        if self._audience not in (claims.get("aud"), claims.get("client_id")) and not (
            isinstance(claims.get("aud"), list) and self._audience in claims["aud"]
        ):
            raise Unauthenticated("the token was issued for another audience", token_given=True)
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise Unauthenticated("the token has no subject", token_given=True)
        return claims

    def _signing_key(self, token: str) -> Any:  # what PyJWT verifies with (a key object of `cryptography`)
        kid = jwt.get_unverified_header(token).get("kid")
        if not isinstance(kid, str):
            raise Unauthenticated("the token names no signing key", token_given=True)
        key = self._keys.key(kid)
        if key is None:
            raise Unauthenticated("the token is signed with an unknown key", token_given=True)
        return key.key


def _student_id(claims: dict[str, Any]) -> int | None:
    raw = claims.get(STUDENT_ID_CLAIM)
    try:
        return int(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None
