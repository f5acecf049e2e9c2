-- Students: the core record. Every rule the API promises is also a constraint here,
-- so no client, script or future code path can store what the API would refuse.

CREATE SEQUENCE student_number_seq;

CREATE TABLE students (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    student_number  text        NOT NULL,
    first_name      text        NOT NULL,
    last_name       text        NOT NULL,
    email           text        NOT NULL,
    date_of_birth   date,
    status          text        NOT NULL DEFAULT 'active',
    enrolled_on     date        NOT NULL DEFAULT current_date,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    version         integer     NOT NULL DEFAULT 1,
    CONSTRAINT students_student_number_format CHECK (student_number ~ '^[A-Z0-9][A-Z0-9-]{2,31}$'),
    CONSTRAINT students_first_name_length CHECK (char_length(btrim(first_name)) BETWEEN 1 AND 100),
    CONSTRAINT students_last_name_length CHECK (char_length(btrim(last_name)) BETWEEN 1 AND 100),
    CONSTRAINT students_email_format CHECK (char_length(email) <= 254 AND email ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$'),
    CONSTRAINT students_date_of_birth_range CHECK (date_of_birth BETWEEN DATE '1900-01-01' AND DATE '2100-01-01'),
    CONSTRAINT students_status_valid CHECK (status IN ('active', 'inactive', 'graduated', 'withdrawn')),
    CONSTRAINT students_version_positive CHECK (version >= 1)
);

CREATE UNIQUE INDEX students_student_number_key ON students (student_number);
-- Email is unique whatever its case: Ada@x.org and ada@x.org are one person.
CREATE UNIQUE INDEX students_email_lower_key ON students (lower(email));
-- Prefix search on name or email (q=) and keyset pages filtered by status.
CREATE INDEX students_first_name_prefix_idx ON students (lower(first_name) text_pattern_ops);
CREATE INDEX students_last_name_prefix_idx ON students (lower(last_name) text_pattern_ops);
CREATE INDEX students_email_prefix_idx ON students (lower(email) text_pattern_ops);
CREATE INDEX students_status_id_idx ON students (status, id);

-- Generated student numbers (S + 8 digits) come from a sequence; that shape is reserved
-- for them so a number a client chose can never collide with a later generated one.
CREATE FUNCTION students_assign_student_number() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.student_number IS NULL THEN
        NEW.student_number := 'S' || lpad(nextval('student_number_seq')::text, 8, '0');
    ELSIF NEW.student_number ~ '^S[0-9]{8}$' THEN
        RAISE EXCEPTION 'student numbers of the form S######## are generated, not chosen'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'students_student_number_reserved';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER students_assign_student_number
    BEFORE INSERT ON students
    FOR EACH ROW EXECUTE FUNCTION students_assign_student_number();
