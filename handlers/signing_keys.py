"""Publishes the Cognito user pool's signing keys (its JWKS) to an S3 object, where both doors read them.

The doors run in private subnets: they reach S3 through the VPC's gateway endpoint, but not Cognito's
public JWKS URL, and Cognito's PrivateLink endpoint does not serve user pools with a domain. This
function runs outside the VPC and copies the JWKS: as a CloudFormation custom resource (Create and
Update publish; Delete removes the object, so that the bucket can be deleted), and on an EventBridge
schedule, because Cognito may rotate its signing keys. A scheduled run that fails raises, so that
Lambda's Errors metric counts it. Nothing is written unless the JWKS holds only RSA public keys: a good
object is never overwritten with something else.

Environment: SIGNING_KEYS_ISSUER (the pool's issuer URL), SIGNING_KEYS_BUCKET, SIGNING_KEYS_OBJECT_KEY.
Standard library and boto3 only (the Lambda runtime provides boto3).
"""

import json
import logging
import os
import urllib.request
from typing import Any

import boto3
from botocore.config import Config

from handlers.cloudformation import send_answer

FETCH_TIMEOUT_S = 10
# S3 calls bounded too (about 25 s at worst): CloudFormation must be answered within the function's timeout.
S3_CONFIG = Config(connect_timeout=3, read_timeout=5, retries={"total_max_attempts": 3})
REQUIRED_MEMBERS = ("kid", "n", "e")
PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi")

logger = logging.getLogger(__name__)


class InvalidJwks(ValueError):
    pass


def handler(event: dict[str, Any], context: object) -> None:
    if "RequestType" in event:
        _answer_custom_resource(event)
    else:
        publish()


def publish() -> list[str]:
    """Fetches the pool's JWKS, checks it and writes it to the object; returns the key ids."""
    issuer, bucket, key = (
        os.environ[name] for name in ("SIGNING_KEYS_ISSUER", "SIGNING_KEYS_BUCKET", "SIGNING_KEYS_OBJECT_KEY")
    )
    url = f"{issuer.rstrip('/')}/.well-known/jwks.json"
    # B310: the issuer is the stack's own user pool (https), set by the template, never by a request
    with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT_S) as response:  # nosec B310
        document = response.read()
    key_ids = validated_key_ids(document)
    s3 = boto3.client("s3", config=S3_CONFIG)
    s3.put_object(Bucket=bucket, Key=key, Body=document, ContentType="application/json")
    logger.info("published signing keys %s from %s to s3://%s/%s", ",".join(key_ids), url, bucket, key)
    return key_ids


def validated_key_ids(document: bytes) -> list[str]:
    """The key ids of a JWKS whose every key is an RSA public key with kid, n and e; InvalidJwks otherwise."""
    try:
        jwks = json.loads(document)
    except ValueError:
        raise InvalidJwks("the JWKS is not JSON") from None
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(keys, list) or not keys:
        raise InvalidJwks("the JWKS has no keys")
    for jwk in keys:
        if not isinstance(jwk, dict) or jwk.get("kty") != "RSA":
            raise InvalidJwks("the JWKS holds a key that is not RSA")
        if not all(isinstance(jwk.get(member), str) and jwk[member] for member in REQUIRED_MEMBERS):
            raise InvalidJwks("the JWKS holds a key without kid, n or e")
        if any(member in jwk for member in PRIVATE_MEMBERS):
            raise InvalidJwks("the JWKS holds a private key")
    return [jwk["kid"] for jwk in keys]


def _answer_custom_resource(event: dict[str, Any]) -> None:
    configured = f"s3://{os.environ['SIGNING_KEYS_BUCKET']}/{os.environ['SIGNING_KEYS_OBJECT_KEY']}"
    # The object is the physical id: when an update moves it, CloudFormation then deletes the old one.
    physical_id = event.get("PhysicalResourceId", configured)
    data = {}
    try:
        if event["RequestType"] == "Delete":
            # Not an object of ours when a create went unanswered: the configured one may still have been written.
            deleted = physical_id if physical_id.startswith("s3://") else configured
            _delete(deleted)
            status, reason = "SUCCESS", f"deleted {deleted}"
        else:
            key_ids = publish()
            status, reason, physical_id = "SUCCESS", f"published signing keys {','.join(key_ids)}", configured
            data = {"KeyIds": ",".join(key_ids)}
    except Exception as error:  # any failure becomes a FAILED answer with its reason
        logger.exception("signing keys: %s failed", event["RequestType"])
        status, reason = "FAILED", f"{type(error).__name__}: {error}"
    send_answer(event, status, reason, physical_id, data)


def _delete(uri: str) -> None:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    s3 = boto3.client("s3", config=S3_CONFIG)
    try:
        s3.delete_object(Bucket=bucket, Key=key)  # S3 answers success for an object already gone
    except s3.exceptions.NoSuchBucket:
        logger.info("bucket %s already gone", bucket)
