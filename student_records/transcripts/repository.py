"""SQL of transcripts and of the grade scale."""

from psycopg import sql

from ..access import Caller
from ..data.auditing import actor, read_audited
from ..data.database import Query
from ..data.repository import Repository
from .models import GradeScaleEntry, Transcript

# The whole transcript in one statement, GPAs included: credit-weighted over graded (so completed)
# enrollments, per term and overall, rounded to two decimals. No row when the student does not exist.
TRANSCRIPT = Query(
    "transcripts.get",
    sql.SQL(
        """WITH student AS (SELECT id AS student_id, student_number FROM students WHERE id = %(student_id)s),
        {audit},
        lines AS (
            SELECT t.id AS term_id, t.code AS term_code, t.starts_on, t.ends_on,
                   e.id AS enrollment_id, c.id AS course_id, c.code, c.title, c.credits, e.status, e.grade, g.points
            FROM enrollments e
            JOIN course_offerings o ON o.id = e.offering_id
            JOIN courses c ON c.id = o.course_id
            JOIN terms t ON t.id = o.term_id
            LEFT JOIN grade_scale g ON g.grade = e.grade
            WHERE e.student_id = %(student_id)s),
        by_term AS (
            SELECT term_id, term_code, starts_on, ends_on,
                   json_agg(json_build_object(
                       'enrollment_id', enrollment_id, 'course_id', course_id, 'code', code, 'title', title,
                       'credits', credits, 'status', status, 'grade', grade, 'points', points
                   ) ORDER BY lower(code), enrollment_id) AS courses,
                   sum(points * credits) AS grade_points,
                   coalesce(sum(credits) FILTER (WHERE points IS NOT NULL), 0) AS graded_credits
            FROM lines GROUP BY term_id, term_code, starts_on, ends_on)
        SELECT s.student_id, s.student_number,
               round(sum(t.grade_points) / nullif(sum(t.graded_credits), 0), 2) AS gpa,
               coalesce(sum(t.graded_credits), 0) AS graded_credits,
               coalesce(json_agg(json_build_object(
                   'term_id', t.term_id, 'code', t.term_code, 'starts_on', t.starts_on, 'ends_on', t.ends_on,
                   'courses', t.courses, 'graded_credits', t.graded_credits,
                   'gpa', round(t.grade_points / nullif(t.graded_credits, 0), 2)
               ) ORDER BY t.starts_on, t.term_id) FILTER (WHERE t.term_id IS NOT NULL), '[]') AS terms
        FROM student s LEFT JOIN by_term t ON true
        GROUP BY s.student_id, s.student_number"""
    ).format(audit=read_audited("transcript", "student", "student_id")),
    audits_read=True,
)
GRADE_SCALE = Query("grades.scale", "SELECT grade, points FROM grade_scale ORDER BY points DESC, grade")


class TranscriptRepository(Repository):
    def transcript(self, caller: Caller, student_id: int) -> Transcript | None:
        return self._one(Transcript, TRANSCRIPT, {"student_id": student_id, **actor(caller)})

    def grade_scale(self) -> list[GradeScaleEntry]:
        return self._all(GradeScaleEntry, GRADE_SCALE)
