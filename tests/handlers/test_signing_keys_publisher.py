"""The publisher copies the user pool's JWKS to the S3 object the doors read: on deployment (a custom resource
that always answers CloudFormation) and on a schedule (a failure raises); never a JWKS that is not one."""

import json
from collections.abc import Iterator

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from handlers import signing_keys
from tests.conftest import SIGNING_KEYS_BUCKET as BUCKET
from tests.conftest import SIGNING_KEYS_OBJECT as OBJECT_KEY
from tests.handlers.loopback import LoopbackHttp

POOL_PATH = "/eu-west-1_AbC"
JWKS_PATH = f"{POOL_PATH}/.well-known/jwks.json"
OBJECT_URI = f"s3://{BUCKET}/{OBJECT_KEY}"


def public_jwk(kid: str) -> dict:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return {**public, "kid": kid, "alg": "RS256", "use": "sig"}


def jwks(*kids: str) -> bytes:
    return json.dumps({"keys": [public_jwk(kid) for kid in kids]}).encode()


@pytest.fixture
def s3(signing_keys_bucket):
    return signing_keys_bucket


@pytest.fixture
def user_pool(monkeypatch) -> Iterator[LoopbackHttp]:
    """The user pool's issuer URL, serving a JWKS of two keys."""
    server = LoopbackHttp({JWKS_PATH: jwks("kid-1", "kid-2")})
    monkeypatch.setenv("SIGNING_KEYS_ISSUER", server.url + POOL_PATH)
    monkeypatch.setenv("SIGNING_KEYS_BUCKET", BUCKET)
    monkeypatch.setenv("SIGNING_KEYS_OBJECT_KEY", OBJECT_KEY)
    yield server
    server.close()


@pytest.fixture
def cloudformation() -> Iterator[LoopbackHttp]:
    server = LoopbackHttp()
    yield server
    server.close()


def custom_resource_event(request_type: str, response_url: str, **extra: str) -> dict:
    return {
        "RequestType": request_type,
        "ResponseURL": response_url,
        "StackId": "arn:aws:cloudformation:eu-west-1:1:stack/s/1",
        "RequestId": "req-1",
        "LogicalResourceId": "SigningKeys",
        "ResourceType": "Custom::SigningKeys",
        "ResourceProperties": {"Issuer": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC"},
        **extra,
    }


SCHEDULED_EVENT = {
    "version": "0",
    "id": "e-1",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "time": "2026-11-25T10:15:00Z",
    "resources": [],
    "detail": {},
}


def published(s3) -> tuple[bytes, str]:
    stored = s3.get_object(Bucket=BUCKET, Key=OBJECT_KEY)
    return stored["Body"].read(), stored["ContentType"]


def test_create_publishes_the_jwks_and_answers_success_with_the_key_ids(s3, user_pool, cloudformation):
    # When CloudFormation creates the resource
    signing_keys.handler(custom_resource_event("Create", cloudformation.url), None)
    # Then the object holds the pool's JWKS as served, as JSON
    assert published(s3) == (user_pool.served[JWKS_PATH], "application/json")
    # And CloudFormation hears SUCCESS with the key ids, and the object as the physical id
    [answer] = cloudformation.answers
    assert answer["Status"] == "SUCCESS"
    assert answer["Data"] == {"KeyIds": "kid-1,kid-2"}
    assert answer["PhysicalResourceId"] == OBJECT_URI
    assert cloudformation.content_types == [""]


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (b"<html>rate exceeded</html>", "not JSON"),
        (b'{"keys": []}', "no keys"),
        (b'["kid-1"]', "no keys"),
        (json.dumps({"keys": [{"kty": "EC", "kid": "k", "crv": "P-256", "x": "a", "y": "b"}]}).encode(), "not RSA"),
        (json.dumps({"keys": [{"kty": "RSA", "kid": "k", "e": "AQAB"}]}).encode(), "without kid, n or e"),
        (json.dumps({"keys": [{"kty": "RSA", "n": "abc", "e": "AQAB"}]}).encode(), "without kid, n or e"),
        (json.dumps({"keys": [{**public_jwk("k"), "d": "secret"}]}).encode(), "private key"),
    ],
    ids=["html", "empty keys", "not an object", "ec key", "no modulus", "no key id", "private key"],
)
def test_an_invalid_jwks_is_answered_failed_and_the_published_object_is_kept(
    s3, user_pool, cloudformation, document, reason
):
    # Given a published JWKS
    signing_keys.handler(custom_resource_event("Create", cloudformation.url), None)
    good = published(s3)
    # When the pool's URL serves something else and the stack is updated
    user_pool.served[JWKS_PATH] = document
    signing_keys.handler(custom_resource_event("Update", cloudformation.url, PhysicalResourceId=OBJECT_URI), None)
    # Then CloudFormation hears FAILED and why, and the object is what it was
    answer = cloudformation.answers[-1]
    assert answer["Status"] == "FAILED"
    assert answer["Reason"].startswith("InvalidJwks") and reason in answer["Reason"]
    assert answer["PhysicalResourceId"] == OBJECT_URI
    assert published(s3) == good


def test_delete_removes_the_object_and_answers_success_even_when_it_is_gone(s3, user_pool, cloudformation):
    # Given a published JWKS
    signing_keys.handler(custom_resource_event("Create", cloudformation.url), None)
    # When the resource is deleted, twice (CloudFormation may retry)
    for _ in range(2):
        signing_keys.handler(custom_resource_event("Delete", cloudformation.url, PhysicalResourceId=OBJECT_URI), None)
    # Then the bucket is empty, so that it can be deleted, and both deletes succeeded
    assert s3.list_objects_v2(Bucket=BUCKET)["KeyCount"] == 0
    assert [answer["Status"] for answer in cloudformation.answers] == ["SUCCESS", "SUCCESS", "SUCCESS"]
    # And even with the bucket itself gone
    s3.delete_bucket(Bucket=BUCKET)
    signing_keys.handler(custom_resource_event("Delete", cloudformation.url, PhysicalResourceId=OBJECT_URI), None)
    assert cloudformation.answers[-1]["Status"] == "SUCCESS"


def test_an_update_that_moves_the_object_leaves_only_the_new_one(s3, user_pool, cloudformation, monkeypatch):
    # Given a published JWKS
    signing_keys.handler(custom_resource_event("Create", cloudformation.url), None)
    # When an update moves the object, and CloudFormation deletes the resource's old physical id
    monkeypatch.setenv("SIGNING_KEYS_OBJECT_KEY", "cognito/v2/jwks.json")
    signing_keys.handler(custom_resource_event("Update", cloudformation.url, PhysicalResourceId=OBJECT_URI), None)
    new_physical_id = cloudformation.answers[-1]["PhysicalResourceId"]
    signing_keys.handler(custom_resource_event("Delete", cloudformation.url, PhysicalResourceId=OBJECT_URI), None)
    # Then only the new object is left, and it is the resource's physical id
    assert new_physical_id == f"s3://{BUCKET}/cognito/v2/jwks.json"
    assert [item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET)["Contents"]] == ["cognito/v2/jwks.json"]
    assert [answer["Status"] for answer in cloudformation.answers] == ["SUCCESS", "SUCCESS", "SUCCESS"]


def test_a_scheduled_run_publishes_rotated_keys(s3, user_pool):
    # Given a published JWKS
    signing_keys.handler(SCHEDULED_EVENT, None)
    # When the pool rotates its keys and the schedule runs
    user_pool.served[JWKS_PATH] = jwks("kid-2", "kid-3")
    signing_keys.handler(SCHEDULED_EVENT, None)
    # Then the object holds the new keys
    assert [key["kid"] for key in json.loads(published(s3)[0])["keys"]] == ["kid-2", "kid-3"]


@pytest.mark.parametrize("served", [None, b'{"keys": []}'], ids=["pool unreachable", "invalid jwks"])
def test_a_scheduled_run_that_fails_raises_and_keeps_the_object(s3, user_pool, served):
    # Given a published JWKS
    signing_keys.handler(SCHEDULED_EVENT, None)
    good = published(s3)
    # When the schedule runs and the pool's URL answers 404, or an invalid JWKS
    user_pool.served = {JWKS_PATH: served} if served else {}
    # Then the run raises (Lambda's Errors metric counts it), and the object is what it was
    with pytest.raises((OSError, signing_keys.InvalidJwks)):
        signing_keys.handler(SCHEDULED_EVENT, None)
    assert published(s3) == good
