"""Enrollments on both doors: enroll, rosters, one enrollment, drop and grades; capacity under concurrency
(Flask door); the audit trail of each."""

from tests.concurrency import run_concurrently
from tests.contract.academic_records import (
    as_role,
    drop,
    enroll,
    new_enrollment,
    new_offering,
    new_student,
    record_grade,
)
from tests.doors import Call, FlaskDoor

PROBLEM = "application/problem+json"
TEACHER = "teacher-grace"


def _seats_taken(api, offering_id: int) -> int:
    return api.send(Call("GET", f"/offerings/{offering_id}")).json["enrolled_count"]


def _audit_actions(db, student_id: int) -> list[tuple[str, str, str]]:
    return db.execute(
        "SELECT actor, actor_role, action FROM student_audit WHERE student_id = %s AND action <> 'create' ORDER BY id",
        (student_id,),
    ).fetchall()


class TestEnroll:
    def test_enrolling_takes_a_seat(self, api):
        # Given an offering and a student
        offering, student = new_offering(api, capacity=2), new_student(api)
        # When the student is enrolled
        reply = enroll(api, offering["id"], student["id"])
        # Then the enrollment is created, and one seat is taken
        assert reply.status == 201
        enrollment = reply.json
        assert reply.headers["location"] == f"/enrollments/{enrollment['id']}"
        assert reply.headers["etag"] == '"1"'
        assert (enrollment["offering_id"], enrollment["student_id"]) == (offering["id"], student["id"])
        assert (enrollment["status"], enrollment["grade"], enrollment["version"]) == ("enrolled", None, 1)
        assert _seats_taken(api, offering["id"]) == 1

    def test_a_full_offering_refuses_with_409_and_stores_nothing(self, api, db):
        # Given an offering whose only seat is taken
        offering = new_offering(api, capacity=1)
        new_enrollment(api, offering["id"], new_student(api)["id"])
        latecomer = new_student(api)
        # When another student enrolls
        reply = enroll(api, offering["id"], latecomer["id"])
        # Then 409, no enrollment and no audit row for them
        assert reply.status == 409
        assert reply.content_type == PROBLEM
        assert reply.json["type"] == "urn:student-records:problem:conflict"
        assert "no seat left" in reply.json["detail"]
        assert _seats_taken(api, offering["id"]) == 1
        stored = db.execute("SELECT count(*) FROM enrollments WHERE student_id = %s", (latecomer["id"],)).fetchone()
        assert stored == (0,)
        assert _audit_actions(db, latecomer["id"]) == []

    def test_enrolling_twice_is_409_and_takes_no_second_seat(self, api):
        offering, student = new_offering(api), new_student(api)
        new_enrollment(api, offering["id"], student["id"])
        reply = enroll(api, offering["id"], student["id"])
        assert reply.status == 409
        assert reply.json["errors"] == [
            {"field": "student_id", "in": "body", "message": reply.json["detail"], "type": "unique"}
        ]
        assert _seats_taken(api, offering["id"]) == 1

    def test_a_completed_enrollment_is_not_enrolled_again(self, api):
        offering, student = new_offering(api), new_student(api)
        enrollment = new_enrollment(api, offering["id"], student["id"])
        record_grade(api, enrollment["id"], "B")
        assert enroll(api, offering["id"], student["id"]).status == 409

    def test_a_student_who_dropped_is_enrolled_again(self, api):
        # Given a dropped enrollment
        offering, student = new_offering(api), new_student(api)
        first = new_enrollment(api, offering["id"], student["id"])
        drop(api, first["id"])
        # When the student enrolls again
        reply = enroll(api, offering["id"], student["id"])
        # Then the same enrollment is enrolled again, taking a seat again
        assert reply.status == 201
        assert (reply.json["id"], reply.json["status"], reply.json["version"]) == (first["id"], "enrolled", 3)
        assert _seats_taken(api, offering["id"]) == 1

    def test_unknown_student_is_422_and_takes_no_seat(self, api):
        offering = new_offering(api)
        reply = enroll(api, offering["id"], 987654)
        assert reply.status == 422
        assert reply.json["errors"][0]["field"] == "student_id"
        assert _seats_taken(api, offering["id"]) == 0

    def test_unknown_offering_is_404(self, api):
        reply = enroll(api, 4242, new_student(api)["id"])
        assert reply.status == 404
        assert reply.json["type"] == "urn:student-records:problem:not-found"

    def test_bad_bodies_are_client_errors(self, api):
        offering = new_offering(api)
        for body in ({}, {"student_id": "1"}, {"student_id": 0}, {"student_id": 1, "grade": "A"}, [1]):
            reply = api.send(Call("POST", f"/offerings/{offering['id']}/enrollments", json_body=body))
            assert reply.status == 422, body
        reply = api.send(
            Call(
                "POST",
                f"/offerings/{offering['id']}/enrollments",
                body=b"{",
                headers={"Content-Type": "application/json"},
            )
        )
        assert reply.status == 400
        assert api.send(Call("POST", "/offerings/x/enrollments", json_body={"student_id": 1})).status == 422

    def test_only_registrars_enroll(self, api):
        offering, student = new_offering(api, teacher_sub=TEACHER), new_student(api)
        for headers in (as_role("teacher", subject=TEACHER), as_role("student", student_id=student["id"])):
            assert enroll(api, offering["id"], student["id"], headers).status == 403
        assert enroll(api, offering["id"], student["id"], as_role("registrar")).status == 201


class TestRoster:
    def test_the_teacher_reads_the_roster_with_directory_fields(self, api):
        # Given an offering with two students
        offering = new_offering(api, teacher_sub=TEACHER)
        students = [new_student(api, last_name=name) for name in ("Hopper", "Turing")]
        enrollments = [new_enrollment(api, offering["id"], student["id"]) for student in students]
        # When its teacher asks for the roster, a page at a time
        headers = as_role("teacher", subject=TEACHER)
        first = api.send(Call("GET", f"/offerings/{offering['id']}/enrollments?limit=1", headers=headers))
        second = api.send(
            Call(
                "GET",
                f"/offerings/{offering['id']}/enrollments?limit=1&cursor={first.json['next_cursor']}",
                headers=headers,
            )
        )
        # Then every enrollment comes once, with the student's directory fields and nothing more
        items = first.json["items"] + second.json["items"]
        assert [item["id"] for item in items] == [enrollment["id"] for enrollment in enrollments]
        assert [item["last_name"] for item in items] == ["Hopper", "Turing"]
        assert "email" not in items[0] and "date_of_birth" not in items[0]
        assert second.json["next_cursor"] is None

    def test_other_teachers_and_students_cannot_read_it(self, api):
        offering, student = new_offering(api, teacher_sub=TEACHER), new_student(api)
        new_enrollment(api, offering["id"], student["id"])
        path = f"/offerings/{offering['id']}/enrollments"
        assert api.send(Call("GET", path, headers=as_role("teacher", subject="teacher-alan"))).status == 403
        assert api.send(Call("GET", path, headers=as_role("student", student_id=student["id"]))).status == 403
        assert api.send(Call("GET", path, headers=as_role("registrar"))).status == 200

    def test_unknown_offering_bad_limit_and_foreign_cursor(self, api):
        offering = new_offering(api)
        for _ in range(2):
            new_enrollment(api, offering["id"], new_student(api)["id"])
        other = new_offering(api)
        cursor = api.send(Call("GET", f"/offerings/{offering['id']}/enrollments?limit=1")).json["next_cursor"]
        assert api.send(Call("GET", f"/offerings/{other['id']}/enrollments?cursor={cursor}")).status == 400
        assert api.send(Call("GET", f"/offerings/{offering['id']}/enrollments?limit=0")).status == 422
        assert api.send(Call("GET", "/offerings/999/enrollments")).status == 404


class TestGetEnrollment:
    def test_registrar_teacher_and_the_student_read_it(self, api):
        offering, student = new_offering(api, teacher_sub=TEACHER), new_student(api)
        enrollment = new_enrollment(api, offering["id"], student["id"])
        for headers in (
            as_role("registrar"),
            as_role("teacher", subject=TEACHER),
            as_role("student", student_id=student["id"]),
        ):
            reply = api.send(Call("GET", f"/enrollments/{enrollment['id']}", headers=headers))
            assert reply.status == 200
            assert reply.json == enrollment
            assert reply.headers["etag"] == '"1"'

    def test_another_student_gets_404_and_another_teacher_403(self, api):
        offering, student = new_offering(api, teacher_sub=TEACHER), new_student(api)
        enrollment = new_enrollment(api, offering["id"], student["id"])
        path = f"/enrollments/{enrollment['id']}"
        assert api.send(Call("GET", path, headers=as_role("student", student_id=student["id"] + 1))).status == 404
        assert api.send(Call("GET", path, headers=as_role("teacher", subject="teacher-alan"))).status == 403

    def test_unknown_and_malformed_ids(self, api):
        assert api.send(Call("GET", "/enrollments/5150")).status == 404
        assert api.send(Call("GET", "/enrollments/five")).status == 422


class TestDrop:
    def test_dropping_frees_the_seat_for_someone_else(self, api):
        # Given a full offering
        offering = new_offering(api, capacity=1)
        enrollment = new_enrollment(api, offering["id"], new_student(api)["id"])
        waiting = new_student(api)
        assert enroll(api, offering["id"], waiting["id"]).status == 409
        # When the enrolled student drops
        reply = drop(api, enrollment["id"])
        # Then the enrollment is dropped, and the seat goes to the next student
        assert reply.status == 200
        assert (reply.json["status"], reply.json["version"]) == ("dropped", 2)
        assert reply.headers["etag"] == '"2"'
        assert _seats_taken(api, offering["id"]) == 0
        assert enroll(api, offering["id"], waiting["id"]).status == 201

    def test_only_enrolled_enrollments_can_be_dropped(self, api):
        offering = new_offering(api)
        dropped = new_enrollment(api, offering["id"], new_student(api)["id"])
        drop(api, dropped["id"])
        graded = new_enrollment(api, offering["id"], new_student(api)["id"])
        record_grade(api, graded["id"], "A")
        for enrollment_id in (dropped["id"], graded["id"]):
            reply = drop(api, enrollment_id)
            assert reply.status == 409
            assert reply.json["type"] == "urn:student-records:problem:conflict"
        assert _seats_taken(api, offering["id"]) == 1

    def test_stale_if_match_is_412(self, api):
        offering = new_offering(api)
        enrollment = new_enrollment(api, offering["id"], new_student(api)["id"])
        reply = api.send(
            Call(
                "PATCH",
                f"/enrollments/{enrollment['id']}",
                json_body={"status": "dropped"},
                headers={"If-Match": '"7"'},
            )
        )
        assert reply.status == 412
        assert reply.json["current_version"] == 1
        assert _seats_taken(api, offering["id"]) == 1

    def test_only_dropping_is_a_status_change(self, api):
        offering = new_offering(api)
        enrollment = new_enrollment(api, offering["id"], new_student(api)["id"])
        for body in ({"status": "completed"}, {"status": "enrolled"}, {}, {"grade": "A"}):
            reply = api.send(Call("PATCH", f"/enrollments/{enrollment['id']}", json_body=body))
            assert reply.status == 422, body

    def test_unknown_enrollment_is_404_and_teachers_cannot_drop(self, api):
        offering = new_offering(api, teacher_sub=TEACHER)
        enrollment = new_enrollment(api, offering["id"], new_student(api)["id"])
        assert drop(api, 8080).status == 404
        assert drop(api, enrollment["id"], as_role("teacher", subject=TEACHER)).status == 403


class TestGrades:
    def test_the_teacher_records_a_grade_which_completes_the_enrollment(self, api):
        # Given an enrollment in an offering the teacher teaches
        offering = new_offering(api, teacher_sub=TEACHER, capacity=3)
        enrollment = new_enrollment(api, offering["id"], new_student(api)["id"])
        # When the teacher records a grade, then corrects it
        headers = as_role("teacher", subject=TEACHER)
        first = record_grade(api, enrollment["id"], "B+", headers)
        corrected = record_grade(api, enrollment["id"], "A-", headers)
        # Then the enrollment is completed with the latest grade, and keeps its seat
        assert first.status == corrected.status == 200
        assert (first.json["status"], first.json["grade"]) == ("completed", "B+")
        assert (corrected.json["grade"], corrected.json["version"]) == ("A-", 3)
        assert corrected.headers["etag"] == '"3"'
        assert _seats_taken(api, offering["id"]) == 1

    def test_a_grade_not_on_the_scale_is_422(self, api):
        offering = new_offering(api)
        enrollment = new_enrollment(api, offering["id"], new_student(api)["id"])
        for grade in ("E", "A+", "a", "", "P/F", 4):
            reply = record_grade(api, enrollment["id"], grade)
            assert reply.status == 422, grade
            assert reply.json["errors"][0]["field"] == "grade"
        assert api.send(Call("GET", f"/enrollments/{enrollment['id']}")).json["status"] == "enrolled"

    def test_a_dropped_enrollment_cannot_be_graded(self, api):
        offering = new_offering(api)
        enrollment = new_enrollment(api, offering["id"], new_student(api)["id"])
        drop(api, enrollment["id"])
        assert record_grade(api, enrollment["id"], "C").status == 409

    def test_other_teachers_and_students_cannot_grade(self, api):
        offering, student = new_offering(api, teacher_sub=TEACHER), new_student(api)
        enrollment = new_enrollment(api, offering["id"], student["id"])
        assert record_grade(api, enrollment["id"], "A", as_role("teacher", subject="teacher-alan")).status == 403
        assert record_grade(api, enrollment["id"], "A", as_role("student", student_id=student["id"])).status == 403
        assert record_grade(api, enrollment["id"], "A", as_role("registrar")).status == 200

    def test_unknown_enrollment_and_bad_bodies(self, api):
        assert record_grade(api, 777, "A").status == 404
        offering = new_offering(api)
        enrollment = new_enrollment(api, offering["id"], new_student(api)["id"])
        path = f"/enrollments/{enrollment['id']}/grade"
        assert api.send(Call("PUT", path, json_body={"grade": "A", "points": 4})).status == 422
        assert api.send(Call("PUT", path, body=b"grade=A", headers={"Content-Type": "text/plain"})).status == 415

    def test_put_is_the_only_method_on_a_grade(self, api):
        reply = api.send(Call("GET", "/enrollments/1/grade"))
        assert reply.status == 405
        assert reply.headers["allow"] == "PUT"


def test_every_access_to_the_academic_record_is_audited(api, db):
    # Given a registrar, a teacher and a student's enrollment
    offering, student = new_offering(api, teacher_sub=TEACHER), new_student(api)
    registrar = as_role("registrar", subject="registrar-7")
    teacher = as_role("teacher", subject=TEACHER)
    # When the record is enrolled, read, listed, graded, enrolled elsewhere and dropped
    enrollment = enroll(api, offering["id"], student["id"], registrar).json
    api.send(Call("GET", f"/enrollments/{enrollment['id']}", headers=teacher))
    api.send(Call("GET", f"/offerings/{offering['id']}/enrollments", headers=teacher))
    record_grade(api, enrollment["id"], "A", teacher)
    other = enroll(api, new_offering(api)["id"], student["id"], registrar).json
    drop(api, other["id"], registrar)
    # Then each access is in the trail, with who made it
    assert _audit_actions(db, student["id"]) == [
        ("registrar-7", "registrar", "enroll"),
        (TEACHER, "teacher", "read"),
        (TEACHER, "teacher", "list"),
        (TEACHER, "teacher", "grade"),
        ("registrar-7", "registrar", "enroll"),
        ("registrar-7", "registrar", "drop"),
    ]
    # And admins read those entries in the audit trail
    entries = api.send(Call("GET", f"/students/{student['id']}/audit")).json["items"]
    assert [entry["action"] for entry in entries] == ["create", "enroll", "read", "list", "grade", "enroll", "drop"]


def test_deleting_a_student_deletes_their_enrollments_and_frees_their_seats(api, db):
    offering, student = new_offering(api, capacity=1), new_student(api)
    new_enrollment(api, offering["id"], student["id"])
    assert api.send(Call("DELETE", f"/students/{student['id']}")).status == 204
    assert _seats_taken(api, offering["id"]) == 0
    assert db.execute("SELECT count(*) FROM enrollments").fetchone()[0] == 0


def test_32_concurrent_enrollments_into_the_last_seat_give_it_to_one(db, application):
    # Given an offering with one seat left, and 32 students who want it
    # (Flask door: its threads reach the database concurrently; the Lambda door serves one request at a time)
    door = FlaskDoor(application)
    offering = new_offering(door, capacity=3)
    for _ in range(2):
        new_enrollment(door, offering["id"], new_student(door)["id"])
    students = [new_student(door)["id"] for _ in range(32)]
    # When all of them enroll at once
    replies = run_concurrently(32, lambda index: enroll(door, offering["id"], students[index]))
    # Then one gets the seat and 31 a conflict, and the offering is exactly full
    assert sorted(reply.status for reply in replies) == [201] + [409] * 31
    assert _seats_taken(door, offering["id"]) == 3
    enrolled = db.execute(
        "SELECT count(*) FROM enrollments WHERE offering_id = %s AND status = 'enrolled'", (offering["id"],)
    ).fetchone()[0]
    assert enrolled == 3


def test_32_concurrent_enrollments_of_one_student_enroll_once(db, application):
    door = FlaskDoor(application)
    offering, student = new_offering(door, capacity=5), new_student(door)
    replies = run_concurrently(32, lambda _: enroll(door, offering["id"], student["id"]))
    assert sorted(reply.status for reply in replies) == [201] + [409] * 31
    assert _seats_taken(door, offering["id"]) == 1
