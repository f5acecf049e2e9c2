"""How the hostile-input suite checks a refusal."""

from tests.doors import Reply

PROBLEM_JSON = "application/problem+json"


def assert_refused(reply: Reply, status: int, problem_type: str | None = None) -> None:
    """Refused as the contract promises: this status, as an RFC 9457 problem document of this type."""
    assert reply.status == status, (reply.door, reply.status, reply.body[:300])
    assert reply.content_type == PROBLEM_JSON, (reply.door, reply.content_type)
    assert reply.json["status"] == status
    if problem_type is not None:
        assert reply.json["type"] == f"urn:student-records:problem:{problem_type}", (reply.door, reply.json)
