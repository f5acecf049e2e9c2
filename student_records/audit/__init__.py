"""The audit trail: who read or changed a student's record (its rows are written by every access, in the
statement that makes it: data/auditing.py)."""
