"""The answer of a CloudFormation custom resource, in one place for every custom resource of the stack.

CloudFormation waits for the answer (an hour, when none comes), so a handler sends one whatever happens.
Only the standard library talks to CloudFormation: the ResponseURL is a presigned S3 URL.
"""

import json
import logging
import time
import urllib.request
from typing import Any

# The whole answer must stay under 4 KB; an error message can be long.
MAX_REASON_CHARS = 1_000
ANSWER_ATTEMPTS = 3

logger = logging.getLogger(__name__)


def send_answer(
    event: dict[str, Any], status: str, reason: str, physical_id: str, data: dict[str, str] | None = None
) -> None:
    body = json.dumps(
        {
            "Status": status,
            "Reason": reason[:MAX_REASON_CHARS],
            "PhysicalResourceId": physical_id,
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "Data": data or {},
        }
    ).encode()
    # The presigned URL was signed without a content type: sending one would break the signature.
    request = urllib.request.Request(
        event["ResponseURL"], data=body, method="PUT", headers={"Content-Type": "", "Content-Length": str(len(body))}
    )
    logger.info("answering CloudFormation: %s (%s)", status, reason[:MAX_REASON_CHARS])
    for attempt in range(1, ANSWER_ATTEMPTS + 1):
        try:
            # B310: the URL is CloudFormation's own presigned S3 one (https), from the event it sends
            with urllib.request.urlopen(request, timeout=10) as response:  # nosec B310
                response.read()
            return
        except OSError:
            if attempt == ANSWER_ATTEMPTS:
                raise
            logger.warning("answer attempt %d failed, retrying", attempt, exc_info=True)
            time.sleep(attempt)
