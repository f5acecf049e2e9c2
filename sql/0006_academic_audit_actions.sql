-- Reads and writes of a student's academic record are audited like the record itself: enrolling,
-- dropping, grading, and reading the transcript.

ALTER TABLE student_audit DROP CONSTRAINT student_audit_action_check;
-- NOT VALID: existing rows passed the narrower rule this one widens, so scanning the whole audit trail
-- under this migration's exclusive lock (every audited request waiting on it) would prove nothing.
-- New and changed rows are checked as usual.
ALTER TABLE student_audit ADD CONSTRAINT student_audit_action_check
    CHECK (action IN ('read', 'list', 'create', 'update', 'delete', 'enroll', 'drop', 'grade', 'transcript'))
    NOT VALID;
