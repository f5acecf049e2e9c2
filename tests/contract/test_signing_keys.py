"""Signing keys from an S3 object (AUTH_JWKS_URL=s3://bucket/key), as the doors read them in AWS: tokens signed
with a key of the object verify; a rotated key is picked up by the first token naming it; forged key ids do
not become a flood of reads; a failed read keeps the keys held; and with no keys ever read, 503, not 500."""

import json
import time
import uuid
from dataclasses import dataclass

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from local_stack.dev_auth import AUDIENCE, ISSUER
from rest_contract.identity import AuthUnavailable, Unauthenticated
from rest_contract.token_verifier import KEYS_MAX_AGE_S, MIN_READ_INTERVAL_S, Authenticator, S3Object, SigningKeys
from tests.conftest import AWS_TEST_REGION as REGION
from tests.conftest import SIGNING_KEYS_BUCKET as BUCKET
from tests.conftest import SIGNING_KEYS_OBJECT as OBJECT_KEY
from tests.doors import Call

OBJECT_URI = f"s3://{BUCKET}/{OBJECT_KEY}"


class SigningKey:
    """A key pair of the user pool: its public half goes in the JWKS, its private half signs tokens."""

    def __init__(self, kid: str) -> None:
        self.kid = kid
        self._private = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwk(self) -> dict:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self._private.public_key()))
        return {**public, "kid": self.kid, "alg": "RS256", "use": "sig"}

    def token(self, subject: str = "someone", kid: str | None = None) -> str:
        now = int(time.time())
        claims = {
            "sub": subject,
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": now,
            "exp": now + 600,
            "cognito:groups": ["admin"],
        }
        return jwt.encode(claims, self._private, algorithm="RS256", headers={"kid": kid or self.kid})


@dataclass
class FakeClock:
    now: float = 10_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def s3(signing_keys_bucket):
    return signing_keys_bucket


def publish(s3, *keys: SigningKey) -> None:
    """What the publisher (handlers/signing_keys.py) writes."""
    s3.put_object(
        Bucket=BUCKET,
        Key=OBJECT_KEY,
        Body=json.dumps({"keys": [key.jwk() for key in keys]}),
        ContentType="application/json",
    )


class Verifier:
    """An authenticator over the object, with a clock the test moves and the object's reads counted."""

    def __init__(self) -> None:
        self.clock = FakeClock()
        self.reads: list[float] = []
        source = S3Object(OBJECT_URI, REGION)

        def counted_read() -> dict:
            self.reads.append(self.clock.now)
            return source.read_json()

        self.authenticator = Authenticator(
            issuer=ISSUER, audience=AUDIENCE, keys=SigningKeys(counted_read, clock=self.clock)
        )

    def subject(self, token: str) -> str:
        return self.authenticator.identify(f"Bearer {token}").subject


@pytest.fixture
def verifier(s3) -> Verifier:
    return Verifier()


@pytest.fixture
def settings(settings):
    """The doors of this module are configured as in AWS: keys from the S3 object."""
    auth = settings.auth.model_copy(update={"jwks_file": None, "jwks_url": OBJECT_URI, "region": REGION})
    return settings.model_copy(update={"auth": auth})


@pytest.fixture
def keys_in_s3(s3):
    return s3


def test_a_token_signed_with_a_key_from_the_object_verifies_on_both_doors(api, keys_in_s3):
    # Given the pool's key in the object
    pool_key = SigningKey("pool-key-1")
    publish(keys_in_s3, pool_key)
    # When a token it signed is sent
    reply = api.send(Call("GET", "/students/count", headers={"Authorization": f"Bearer {pool_key.token()}"}))
    # Then it is accepted, and readiness names the key held
    assert reply.status == 200, reply.body
    ready = api.send(Call("GET", "/health/ready", as_admin=False))
    assert ready.status == 200, ready.body
    assert ready.json["checks"]["auth"] == {"status": "ok", "detail": "signing keys pool-key-1"}


def test_without_keys_ever_read_a_token_is_503_not_500_on_both_doors(api, keys_in_s3):
    # Given no object in the bucket (the publisher has not run, or S3 refuses)
    # When a token is sent
    reply = api.send(Call("GET", "/students/count", headers={"Authorization": f"Bearer {SigningKey('k').token()}"}))
    # Then the service is unavailable, not broken, and not the client's fault
    assert reply.status == 503, reply.body
    assert reply.json["type"] == "urn:student-records:problem:service-unavailable"
    assert reply.headers["retry-after"] == "5"
    # And readiness names the failure by its type
    ready = api.send(Call("GET", "/health/ready", as_admin=False))
    assert ready.status == 503
    assert ready.json["checks"]["auth"] == {"status": "failed", "detail": "no signing keys could be read: NoSuchKey"}


def test_a_rotated_key_is_picked_up_by_the_first_token_naming_it(s3, verifier):
    # Given the object read once, for a token of the first key
    first, second = SigningKey("key-1"), SigningKey("key-2")
    publish(s3, first)
    assert verifier.subject(first.token("ada")) == "ada"
    # When the pool rotates (the publisher writes both keys) and, minutes later, a token of the new key comes
    publish(s3, first, second)
    verifier.clock.now += 10 * 60
    # Then that very token is accepted, after one more read
    assert verifier.subject(second.token("grace")) == "grace"
    assert len(verifier.reads) == 2


def test_forged_key_ids_read_the_object_at_most_once_a_minute(s3, verifier):
    # Given the object read once
    genuine, attacker = SigningKey("key-1"), SigningKey("unused")
    publish(s3, genuine)
    verifier.subject(genuine.token())
    # When tokens with a fresh, unknown key id arrive twice a second for three minutes
    for _ in range(360):
        verifier.clock.now += 0.5
        with pytest.raises(Unauthenticated, match="unknown key"):
            verifier.authenticator.identify(f"Bearer {attacker.token(kid=uuid.uuid4().hex)}")
    # Then the object was read once a minute, no more
    assert len(verifier.reads) == 4
    assert all(
        later - earlier >= MIN_READ_INTERVAL_S
        for earlier, later in zip(verifier.reads, verifier.reads[1:], strict=False)
    )
    # And genuine tokens were never refused
    assert verifier.subject(genuine.token("ada")) == "ada"


def test_keys_held_are_kept_when_the_object_cannot_be_read(s3, verifier):
    # Given the object read once
    genuine = SigningKey("key-1")
    publish(s3, genuine)
    verifier.subject(genuine.token())
    # When the object is gone and the keys held are over an hour old
    s3.delete_object(Bucket=BUCKET, Key=OBJECT_KEY)
    verifier.clock.now += KEYS_MAX_AGE_S + 1
    # Then a read is tried, fails, and the keys held still verify, and readiness is still ok
    assert verifier.subject(genuine.token("ada")) == "ada"
    assert len(verifier.reads) == 2
    assert verifier.authenticator.check() == "signing keys key-1"


def test_keys_are_read_again_when_an_hour_old(s3, verifier):
    # Given the object read once
    revoked, current = SigningKey("key-1"), SigningKey("key-2")
    publish(s3, revoked)
    verifier.subject(revoked.token())
    # When the pool drops the key
    publish(s3, current)
    # Then its tokens are accepted for the rest of the hour, and refused after it
    verifier.clock.now += KEYS_MAX_AGE_S - 1
    assert verifier.subject(revoked.token("ada")) == "ada"
    verifier.clock.now += 2
    with pytest.raises(Unauthenticated, match="unknown key"):
        verifier.subject(revoked.token("grace"))
    assert len(verifier.reads) == 2


def test_a_failed_first_read_is_tried_again_a_minute_later(s3, verifier):
    # Given no object yet: the first token cannot be verified
    key = SigningKey("key-1")
    with pytest.raises(AuthUnavailable, match="NoSuchKey"):
        verifier.subject(key.token())
    # When the object appears
    publish(s3, key)
    # Then the next read waits a minute (each token does not become a read), and then tokens verify
    verifier.clock.now += MIN_READ_INTERVAL_S - 1
    with pytest.raises(AuthUnavailable):
        verifier.subject(key.token())
    verifier.clock.now += 1
    assert verifier.subject(key.token("ada")) == "ada"
    assert len(verifier.reads) == 2
