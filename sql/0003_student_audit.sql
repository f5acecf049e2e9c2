-- Who read or changed which student record, when, and in which request. Writes are audited by the
-- same statement as the change (so in its transaction); rows outlive the students they name.

CREATE TABLE student_audit (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at     timestamptz NOT NULL DEFAULT now(),
    actor           text        NOT NULL CHECK (char_length(actor) BETWEEN 1 AND 256),
    actor_role      text        NOT NULL CHECK (actor_role IN ('admin', 'registrar', 'teacher', 'student')),
    action          text        NOT NULL CHECK (action IN ('read', 'list', 'create', 'update', 'delete')),
    student_id      bigint      NOT NULL,
    correlation_id  text        NOT NULL CHECK (char_length(correlation_id) BETWEEN 1 AND 128)
);

CREATE INDEX student_audit_student_id_idx ON student_audit (student_id, id);
