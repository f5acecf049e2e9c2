-- Academic records: the course catalogue, terms, course offerings (a course in a term, taught by one
-- teacher, with a capacity), enrollments, and final grades on a configurable scale. As for students,
-- every rule the API promises is also a constraint here.

CREATE TABLE courses (
    id          bigint       GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code        text         NOT NULL,
    title       text         NOT NULL,
    credits     numeric(3,1) NOT NULL,
    department  text         NOT NULL,
    created_at  timestamptz  NOT NULL DEFAULT now(),
    updated_at  timestamptz  NOT NULL DEFAULT now(),
    version     integer      NOT NULL DEFAULT 1,
    CONSTRAINT courses_code_format CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9-]{1,31}$'),
    CONSTRAINT courses_title_length CHECK (char_length(btrim(title)) BETWEEN 1 AND 200),
    -- Whole or half credits (0.5, 7.5 ECTS), so a credit-weighted GPA stays exact in numeric.
    CONSTRAINT courses_credits_range CHECK (credits BETWEEN 0 AND 30 AND credits * 2 = trunc(credits * 2)),
    CONSTRAINT courses_department_length CHECK (char_length(btrim(department)) BETWEEN 1 AND 100),
    CONSTRAINT courses_version_positive CHECK (version >= 1)
);

-- CS-101 and cs-101 are one course; the same lower(code) expression serves the prefix search (q=).
CREATE UNIQUE INDEX courses_code_lower_key ON courses (lower(code));
CREATE INDEX courses_code_prefix_idx ON courses (lower(code) text_pattern_ops);
CREATE INDEX courses_title_prefix_idx ON courses (lower(title) text_pattern_ops);

CREATE TABLE terms (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code        text        NOT NULL,
    starts_on   date        NOT NULL,
    ends_on     date        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT terms_code_format CHECK (code ~ '^[A-Z0-9][A-Z0-9-]{1,31}$'),
    CONSTRAINT terms_dates_in_order CHECK (starts_on < ends_on),
    CONSTRAINT terms_dates_range CHECK (starts_on >= DATE '1900-01-01' AND ends_on <= DATE '2100-12-31')
);

CREATE UNIQUE INDEX terms_code_key ON terms (code);

-- enrolled_count is the seats taken (enrolled or completed). Enrolling takes a seat with
-- UPDATE ... WHERE enrolled_count < capacity in the enrolling statement, so concurrent enrollments queue
-- on the offering's row and the last seat goes to exactly one of them; the CHECK is the backstop.
CREATE TABLE course_offerings (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    course_id       bigint      NOT NULL CONSTRAINT course_offerings_course_fk REFERENCES courses (id),
    term_id         bigint      NOT NULL CONSTRAINT course_offerings_term_fk REFERENCES terms (id),
    teacher_sub     text        NOT NULL,
    capacity        integer     NOT NULL,
    enrolled_count  integer     NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    version         integer     NOT NULL DEFAULT 1,
    CONSTRAINT course_offerings_teacher_sub_length CHECK (char_length(teacher_sub) BETWEEN 1 AND 256),
    CONSTRAINT course_offerings_capacity_range CHECK (capacity BETWEEN 1 AND 10000),
    CONSTRAINT course_offerings_seats_within_capacity CHECK (enrolled_count BETWEEN 0 AND capacity),
    CONSTRAINT course_offerings_version_positive CHECK (version >= 1)
);

-- One offering of a course per term; also serves "which offerings does this course have" (DELETE /courses).
CREATE UNIQUE INDEX course_offerings_course_term_key ON course_offerings (course_id, term_id);
CREATE INDEX course_offerings_term_id_idx ON course_offerings (term_id, id);

-- The grading scale is data, not code: a grade is valid when it is a row here.
CREATE TABLE grade_scale (
    grade   text         PRIMARY KEY,
    points  numeric(3,2) NOT NULL,
    CONSTRAINT grade_scale_grade_format CHECK (grade ~ '^[A-Z][A-Z0-9+-]{0,3}$'),
    CONSTRAINT grade_scale_points_range CHECK (points BETWEEN 0 AND 5)
);

INSERT INTO grade_scale (grade, points) VALUES
    ('A', 4.0), ('A-', 3.7), ('B+', 3.3), ('B', 3.0), ('B-', 2.7), ('C+', 2.3), ('C', 2.0), ('C-', 1.7),
    ('D', 1.0), ('F', 0.0);

-- An enrollment's record belongs to its student: deleting the student deletes it (and frees the seat,
-- below). A grade completes the enrollment, so a grade is present exactly when it is completed.
CREATE TABLE enrollments (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    offering_id  bigint      NOT NULL CONSTRAINT enrollments_offering_fk REFERENCES course_offerings (id),
    student_id   bigint      NOT NULL CONSTRAINT enrollments_student_fk REFERENCES students (id) ON DELETE CASCADE,
    status       text        NOT NULL DEFAULT 'enrolled',
    grade        text        CONSTRAINT enrollments_grade_fk REFERENCES grade_scale (grade) ON UPDATE CASCADE,
    enrolled_at  timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    version      integer     NOT NULL DEFAULT 1,
    CONSTRAINT enrollments_status_valid CHECK (status IN ('enrolled', 'dropped', 'completed')),
    CONSTRAINT enrollments_graded_when_completed CHECK ((status = 'completed') = (grade IS NOT NULL)),
    CONSTRAINT enrollments_version_positive CHECK (version >= 1)
);

CREATE UNIQUE INDEX enrollments_student_offering_key ON enrollments (student_id, offering_id);
-- Rosters are keyset pages of one offering's enrollments.
CREATE INDEX enrollments_offering_id_idx ON enrollments (offering_id, id);

-- Enrollments removed with their student (ON DELETE CASCADE) give their seats back, in the same
-- statement as the delete; enroll and drop move seats themselves.
CREATE FUNCTION enrollments_free_seats() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE course_offerings
       SET enrolled_count = enrolled_count - freed.seats
      FROM (SELECT offering_id, count(*) AS seats FROM removed_rows
             WHERE status <> 'dropped' GROUP BY offering_id) AS freed
     WHERE course_offerings.id = freed.offering_id;
    RETURN NULL;
END;
$$;

CREATE FUNCTION enrollments_free_all_seats() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE course_offerings SET enrolled_count = 0 WHERE enrolled_count <> 0;
    RETURN NULL;
END;
$$;

CREATE TRIGGER enrollments_free_seats AFTER DELETE ON enrollments
    REFERENCING OLD TABLE AS removed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION enrollments_free_seats();
CREATE TRIGGER enrollments_free_all_seats AFTER TRUNCATE ON enrollments
    FOR EACH STATEMENT EXECUTE FUNCTION enrollments_free_all_seats();
