"""GET /students/{student_id}/transcript and GET /grade-scale on both doors: terms with courses, credits and
grades, GPAs computed by the database, who may read them, and the audit of each read."""

import pytest

from tests.contract.academic_records import (
    as_role,
    drop,
    new_course,
    new_enrollment,
    new_offering,
    new_student,
    new_term,
    record_grade,
)
from tests.doors import Call

SEEDED_SCALE = [
    {"grade": "A", "points": 4.0},
    {"grade": "A-", "points": 3.7},
    {"grade": "B+", "points": 3.3},
    {"grade": "B", "points": 3.0},
    {"grade": "B-", "points": 2.7},
    {"grade": "C+", "points": 2.3},
    {"grade": "C", "points": 2.0},
    {"grade": "C-", "points": 1.7},
    {"grade": "D", "points": 1.0},
    {"grade": "F", "points": 0.0},
]


def _take(api, student_id: int, term: dict, code: str, credits: float, grade: str | None = None) -> dict:
    """Enrolls the student in a new course of the term, graded when a grade is given."""
    course = new_course(api, code=code, title=f"Course {code}", credits=credits)
    offering = new_offering(api, course_id=course["id"], term_id=term["id"])
    enrollment = new_enrollment(api, offering["id"], student_id)
    if grade is not None:
        assert record_grade(api, enrollment["id"], grade).status == 200
    return enrollment


def _transcript(api, student_id: int, headers: dict[str, str] | None = None):
    return api.send(Call("GET", f"/students/{student_id}/transcript", headers=headers or {}))


class TestTranscript:
    def test_terms_with_courses_grades_and_credit_weighted_gpas(self, api):
        # Given a student with graded, dropped and ongoing courses over two terms
        student = new_student(api)
        spring = new_term(api, code="2026-SPRING", starts_on="2026-01-12", ends_on="2026-05-08")
        fall = new_term(api, code="2025-FALL", starts_on="2025-09-01", ends_on="2025-12-19")
        _take(api, student["id"], fall, "MATH-1", 3, "B-")
        _take(api, student["id"], fall, "cs-101", 4, "A")
        dropped = _take(api, student["id"], fall, "HIST-1", 2)
        drop(api, dropped["id"])
        _take(api, student["id"], spring, "PHYS-1", 7.5, "C+")
        _take(api, student["id"], spring, "ART-1", 1)
        # When the transcript is read
        reply = _transcript(api, student["id"])
        # Then terms come by start date and courses by code
        assert reply.status == 200
        transcript = reply.json
        assert (transcript["student_id"], transcript["student_number"]) == (student["id"], student["student_number"])
        assert [term["code"] for term in transcript["terms"]] == ["2025-FALL", "2026-SPRING"]
        fall_term, spring_term = transcript["terms"]
        assert (fall_term["term_id"], fall_term["starts_on"], fall_term["ends_on"]) == (
            fall["id"],
            "2025-09-01",
            "2025-12-19",
        )
        assert [(c["code"], c["credits"], c["status"], c["grade"], c["points"]) for c in fall_term["courses"]] == [
            ("cs-101", 4, "completed", "A", 4.0),
            ("HIST-1", 2, "dropped", None, None),
            ("MATH-1", 3, "completed", "B-", 2.7),
        ]
        assert [(c["code"], c["status"], c["grade"]) for c in spring_term["courses"]] == [
            ("ART-1", "enrolled", None),
            ("PHYS-1", "completed", "C+"),
        ]
        # And GPAs weigh grade points by credits over graded courses only, per term and overall
        assert (fall_term["gpa"], fall_term["graded_credits"]) == (3.44, 7)  # (4*4.0 + 3*2.7) / 7
        assert (spring_term["gpa"], spring_term["graded_credits"]) == (2.3, 7.5)
        assert (transcript["gpa"], transcript["graded_credits"]) == (2.85, 14.5)  # 41.35 / 14.5

    def test_an_f_counts_with_zero_points(self, api):
        student, term = new_student(api), new_term(api)
        _take(api, student["id"], term, "BIO-1", 3, "A")
        _take(api, student["id"], term, "CHEM-1", 3, "F")
        assert _transcript(api, student["id"]).json["gpa"] == 2.0

    def test_no_course_taken_yet(self, api):
        student = new_student(api)
        reply = _transcript(api, student["id"])
        assert reply.status == 200
        assert reply.json == {
            "student_id": student["id"],
            "student_number": student["student_number"],
            "terms": [],
            "gpa": None,
            "graded_credits": 0,
        }

    def test_nothing_graded_yet_has_no_gpa(self, api):
        student = new_student(api)
        _take(api, student["id"], new_term(api), "ECON-1", 3)
        transcript = _transcript(api, student["id"]).json
        assert transcript["gpa"] is None and transcript["terms"][0]["gpa"] is None

    def test_unknown_student_is_404_and_malformed_id_422(self, api):
        assert _transcript(api, 424242).status == 404
        assert api.send(Call("GET", "/students/abc/transcript")).status == 422


class TestWhoReadsTranscripts:
    @pytest.mark.parametrize(
        ("reader", "status"), [("admin", 200), ("registrar", 200), ("own", 200), ("other", 404), ("teacher", 403)]
    )
    def test_readers(self, api, db, reader, status):
        # Given a student's transcript
        student = new_student(api)
        headers = {
            "own": as_role("student", student_id=student["id"]),
            "other": as_role("student", student_id=student["id"] + 1),
        }.get(reader) or as_role(reader, subject=f"{reader}-1")
        # When this reader asks for it
        reply = _transcript(api, student["id"], headers)
        # Then the answer is theirs, and only a read that was answered is in the audit trail
        assert reply.status == status
        audited = db.execute(
            "SELECT count(*) FROM student_audit WHERE student_id = %s AND action = 'transcript'", (student["id"],)
        ).fetchone()[0]
        assert audited == (1 if status == 200 else 0)

    def test_another_students_transcript_looks_like_a_missing_one(self, api):
        student = new_student(api)
        nosy = as_role("student", student_id=student["id"] + 1)
        other_reply = _transcript(api, student["id"], nosy)
        missing_reply = _transcript(api, 999_999, as_role("student", student_id=999_999 + 1))
        assert other_reply.status == missing_reply.status == 404
        assert other_reply.json["type"] == missing_reply.json["type"]

    def test_the_read_is_audited_with_who_read_it(self, api, db):
        student = new_student(api)
        reply = _transcript(api, student["id"], as_role("registrar", subject="registrar-9"))
        rows = db.execute(
            "SELECT actor, actor_role, correlation_id FROM student_audit"
            " WHERE student_id = %s AND action = 'transcript'",
            (student["id"],),
        ).fetchall()
        assert rows == [("registrar-9", "registrar", reply.headers["x-request-id"])]


class TestGradeScale:
    def test_every_role_reads_the_scale_best_first(self, api):
        for role in ("admin", "registrar", "teacher"):
            reply = api.send(Call("GET", "/grade-scale", headers=as_role(role)))
            assert reply.status == 200
            assert reply.json == {"items": SEEDED_SCALE}
        assert api.send(Call("GET", "/grade-scale", headers=as_role("student", student_id=1))).status == 200
        assert api.send(Call("GET", "/grade-scale", as_admin=False)).status == 401

    def test_the_scale_is_data_a_grade_added_to_it_can_be_recorded(self, api, db):
        # Given a grade added to the scale
        db.execute("INSERT INTO grade_scale (grade, points) VALUES ('A+', 4.3)")
        try:
            student = new_student(api)
            _take(api, student["id"], new_term(api), "MUS-1", 2, "A+")
            # Then it is listed, recorded, and counted in the GPA
            assert api.send(Call("GET", "/grade-scale")).json["items"][0] == {"grade": "A+", "points": 4.3}
            assert _transcript(api, student["id"]).json["gpa"] == 4.3
        finally:
            db.execute("DELETE FROM enrollments WHERE grade = 'A+'")
            db.execute("DELETE FROM grade_scale WHERE grade = 'A+'")
