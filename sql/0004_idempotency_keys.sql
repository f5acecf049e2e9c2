-- Idempotency-Key for POST /students: the first request with a key stores its answer in the same
-- transaction as its effect; a replay within 24 hours gets that answer again.

CREATE TABLE idempotency_keys (
    owner         text        NOT NULL,
    key           text        NOT NULL CHECK (char_length(key) BETWEEN 1 AND 255),
    request_hash  text        NOT NULL,
    status        integer     NOT NULL,
    body          text        NOT NULL,
    location      text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (owner, key)
);

CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);
