"""Verification of a bearer token's signature and claims (PyJWT), with verified tokens cached until expiry."""

import json
import time
from pathlib import Path

import jwt

from student_records.access import ROLE_PRECEDENCE
from student_records.errors import AccessDenied

from .auth import GROUPS_CLAIM, STUDENT_ID_CLAIM, Identity, Unauthenticated

ALGORITHMS = ["RS256"]
CLOCK_SKEW_S = 30
VERIFIED_CACHE_SIZE = 1024


class Authenticator:
    def __init__(self, *, issuer: str, audience: str, jwks_file: Path | None = None, jwks_url: str | None = None):
        if (jwks_file is None) == (jwks_url is None):
            raise ValueError("give exactly one of jwks_file and jwks_url")
        self._issuer = issuer
        self._audience = audience
        self._key_set = jwt.PyJWKSet.from_dict(json.loads(jwks_file.read_text())) if jwks_file else None
        # Keys fetched once and cached, refetched for an unknown key id (a rotated key).
        self._client = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=3600, timeout=5) if jwks_url else None
        self._verified: dict[str, tuple[Identity, float]] = {}

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
        identity = Identity(subject=claims["sub"], role=role, student_id=_student_id(claims))
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            self._verified.pop(next(iter(self._verified)))  # the oldest entry
        self._verified[token] = (identity, float(claims["exp"]))
        return identity

    def _verified_claims(self, token: str) -> dict:
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

    def _signing_key(self, token: str):
        if self._client is not None:
            return self._client.get_signing_key_from_jwt(token).key
        kid = jwt.get_unverified_header(token).get("kid")
        try:
            return self._key_set[kid].key
        except KeyError:
            raise Unauthenticated("the token is signed with an unknown key", token_given=True) from None


def _student_id(claims: dict) -> int | None:
    raw = claims.get(STUDENT_ID_CLAIM)
    try:
        return int(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None
