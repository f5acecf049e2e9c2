"""The EC2 instance a process runs on, read once from the instance metadata service (IMDSv2), for the Flask
door's segments (`origin` and `aws.ec2`, as the X-Ray SDK's EC2 plugin records them).

IMDSv2: a PUT for a session token, then a GET of the instance identity document with it; each with a short
timeout, so that a process off EC2 (a laptop, CI) pays at most one timeout, once, at boot. The settings are
botocore's variables (ObservabilitySettings): AWS_EC2_METADATA_DISABLED=true skips the lookup entirely, and
AWS_EC2_METADATA_SERVICE_ENDPOINT names another endpoint (tests run a fake one on 127.0.0.1).
"""

import functools
import http.client
import json
from dataclasses import dataclass
from urllib.parse import urlsplit

from .logs import logger

ENDPOINT_VARIABLE = "AWS_EC2_METADATA_SERVICE_ENDPOINT"
DEFAULT_ENDPOINT = "http://169.254.169.254/"  # as botocore's METADATA_BASE_URL
TIMEOUT_S = 0.3  # per request; the token request fails first where nothing answers
TOKEN_PATH = "latest/api/token"  # IMDSv2's session-token path, no secret  # nosec B105
IDENTITY_PATH = "latest/dynamic/instance-identity/document"
TOKEN_TTL_S = "60"  # a lifetime in seconds, no secret: the token is used at once  # nosec B105


@dataclass(frozen=True, slots=True)
class Ec2Instance:
    instance_id: str
    availability_zone: str


def lookup(disabled: bool = False, endpoint_url: str | None = None) -> Ec2Instance | None:
    """The instance, or None when the lookup is disabled or nothing answers as IMDS would (not on EC2)."""
    if disabled:
        return None
    endpoint = urlsplit(endpoint_url or DEFAULT_ENDPOINT)
    if endpoint.scheme != "http" or not endpoint.hostname:
        logger.warning("%s must be an http:// URL; the EC2 instance is not recorded", ENDPOINT_VARIABLE)
        return None
    base = endpoint.path.rstrip("/") + "/"
    ask = functools.partial(_request, endpoint.hostname, endpoint.port or 80)
    try:
        token = ask("PUT", base + TOKEN_PATH, {"X-aws-ec2-metadata-token-ttl-seconds": TOKEN_TTL_S})
        identity = token and ask("GET", base + IDENTITY_PATH, {"X-aws-ec2-metadata-token": token})
        if not identity:
            return None
        document = json.loads(identity)
        return Ec2Instance(str(document["instanceId"]), str(document["availabilityZone"]))
    except (OSError, http.client.HTTPException, ValueError, KeyError, TypeError):
        return None  # not on EC2, or not an IMDS that answers: the segment simply has no EC2 fields


def _request(host: str, port: int, method: str, path: str, headers: dict[str, str]) -> str | None:
    # http.client rather than urllib: no proxy from the environment may ever see this request.
    connection = http.client.HTTPConnection(host, port, timeout=TIMEOUT_S)
    try:
        connection.request(method, path, headers=headers)
        response = connection.getresponse()
        body = response.read(64 * 1024).decode()
        return body if response.status == 200 else None
    finally:
        connection.close()


@functools.cache
def this_instance(disabled: bool = False, endpoint_url: str | None = None) -> Ec2Instance | None:
    """lookup(), once per process: every later call, and every app the process builds, reuses the answer."""
    return lookup(disabled, endpoint_url)
