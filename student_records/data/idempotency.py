"""SQL for Idempotency-Key records, used inside the transaction of the request they guard."""

from ..models import RecordedOutcome
from .database import Query, Session

FORGET_EXPIRED = Query(
    "idempotency.forget_expired",
    """DELETE FROM idempotency_keys
       WHERE owner = %(owner)s AND key = %(key)s AND created_at < now() - interval '24 hours'""",
)
FIND = Query(
    "idempotency.find",
    "SELECT request_hash, status, body, location FROM idempotency_keys WHERE owner = %(owner)s AND key = %(key)s",
)
# ON CONFLICT waits for a concurrent request holding the same key to finish, then does nothing.
SAVE = Query(
    "idempotency.save",
    """INSERT INTO idempotency_keys (owner, key, request_hash, status, body, location)
       VALUES (%(owner)s, %(key)s, %(request_hash)s, %(status)s, %(body)s, %(location)s)
       ON CONFLICT (owner, key) DO NOTHING RETURNING key""",
)


class IdempotencyStore:
    def __init__(self, session: Session, owner: str, key: str) -> None:
        self._session = session
        self._ids = {"owner": owner, "key": key}

    def recorded(self) -> RecordedOutcome | None:
        """The outcome recorded under this key in the last 24 hours, if any."""
        self._session.execute(FORGET_EXPIRED, self._ids)
        row = self._session.fetch_one(FIND, self._ids)
        return None if row is None else RecordedOutcome.model_validate(row)

    def record(self, outcome: RecordedOutcome) -> bool:
        """False when a concurrent request recorded this key first."""
        return self._session.fetch_one(SAVE, {**self._ids, **outcome.model_dump()}) is not None
