-- Generated student numbers come from the column's default instead of a BEFORE INSERT trigger, and the
-- number format is checked without a bounded repetition. Why: a per-row trigger makes PostgreSQL's COPY
-- insert one row at a time (no multi-insert) and call PL/pgSQL for every row; with the {2,31} regex it was
-- about a third of the server's time per imported student (bench/README.md §5).

CREATE FUNCTION generated_student_number() RETURNS text
LANGUAGE sql VOLATILE AS $$ SELECT 'S' || lpad(nextval('student_number_seq')::text, 8, '0') $$;

-- Omitting the column (or writing DEFAULT, or coalesce(chosen, generated_student_number())) generates one;
-- a chosen number takes no value from the sequence, as before.
ALTER TABLE students ALTER COLUMN student_number SET DEFAULT generated_student_number();
DROP TRIGGER students_assign_student_number ON students;
DROP FUNCTION students_assign_student_number();

-- The same rule, cheaper to evaluate: 3 to 32 characters, capitals, digits and hyphens, not starting with
-- a hyphen. NOT VALID then VALIDATE: the scan of existing rows does not hold writers out.
ALTER TABLE students DROP CONSTRAINT students_student_number_format;
ALTER TABLE students ADD CONSTRAINT students_student_number_format
    CHECK (char_length(student_number) BETWEEN 3 AND 32 AND student_number ~ '^[A-Z0-9][A-Z0-9-]*$') NOT VALID;
ALTER TABLE students VALIDATE CONSTRAINT students_student_number_format;

-- The reserved form S######## keeps generated numbers from ever colliding with chosen ones. The API refuses
-- any chosen number of that form; here, once per statement, the database refuses one the generator has not
-- handed out yet (the collision that matters). A number it has handed out is held by the student it was
-- generated for (the unique index refuses a second) or was never used.
CREATE FUNCTION students_refuse_numbers_ahead_of_generator() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    last_handed_out text;
BEGIN
    -- S and eight digits compare as text as they do as numbers: the shape is matched only for the rows that
    -- sort after the last number handed out, never for the generated ones.
    SELECT 'S' || lpad((CASE WHEN is_called THEN last_value ELSE last_value - 1 END)::text, 8, '0')
      INTO last_handed_out FROM student_number_seq;
    IF EXISTS (SELECT 1 FROM inserted_rows
                WHERE student_number COLLATE "C" > last_handed_out COLLATE "C"
                  AND student_number ~ '^S[0-9]{8}$') THEN
        RAISE EXCEPTION 'student numbers of the form S######## are generated, not chosen'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'students_student_number_reserved';
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER students_refuse_numbers_ahead_of_generator AFTER INSERT ON students
    REFERENCING NEW TABLE AS inserted_rows
    FOR EACH STATEMENT EXECUTE FUNCTION students_refuse_numbers_ahead_of_generator();
