"""POST, GET, PATCH and DELETE /students on both doors."""

from tests.doors import Call

PROBLEM = "application/problem+json"


def _field_names(reply) -> set[str]:
    return {error["field"] for error in reply.json["errors"]}


class TestCreate:
    def test_created_student_is_returned_with_location_and_etag(self, api):
        # Given a valid new student
        body = {
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": "Ada@Example.org",
            "date_of_birth": "1990-12-10",
            "status": "active",
            "enrolled_on": "2026-09-01",
        }
        # When it is posted
        reply = api.send(Call("POST", "/students", json_body=body))
        # Then it is created, with a generated number, version 1, and where to find it
        assert reply.status == 201
        assert reply.content_type == "application/json"
        student = reply.json
        assert reply.headers["location"] == f"/students/{student['id']}"
        assert reply.headers["etag"] == '"1"'
        assert student["student_number"] == "S00000001"
        assert student["version"] == 1
        assert {k: student[k] for k in body} == body
        assert student["created_at"] == student["updated_at"]

    def test_optional_fields_get_defaults(self, api, create):
        student = create(student_number="CS-2026-7")
        assert student["student_number"] == "CS-2026-7"
        assert student["status"] == "active"
        assert student["date_of_birth"] is None
        assert student["enrolled_on"]  # today, chosen by the database

    def test_duplicate_email_in_any_case_is_a_conflict(self, api, create):
        create(email="grace@example.org")
        reply = api.send(
            Call("POST", "/students", json_body={"first_name": "G", "last_name": "H", "email": "GRACE@example.org"})
        )
        assert reply.status == 409
        assert reply.content_type == PROBLEM
        assert reply.json["errors"] == [{"field": "email", "in": "body", "message": "already taken", "type": "unique"}]

    def test_duplicate_student_number_is_a_conflict(self, api, create):
        create(student_number="ABC-1")
        reply = api.send(
            Call(
                "POST",
                "/students",
                json_body={"first_name": "A", "last_name": "B", "email": "b@example.org", "student_number": "ABC-1"},
            )
        )
        assert reply.status == 409
        assert _field_names(reply) == {"student_number"}

    def test_every_bad_field_is_named(self, api, db):
        body = {
            "first_name": "",
            "last_name": 42,
            "email": "not-an-email",
            "date_of_birth": "1800-01-01",
            "status": "expelled",
            "student_number": "S00000009",
            "nickname": "unknown field",
        }
        reply = api.send(Call("POST", "/students", json_body=body))
        assert reply.status == 422
        assert reply.content_type == PROBLEM
        problem = reply.json
        assert problem["type"] == "urn:student-records:problem:validation-failed"
        assert problem["status"] == 422 and problem["title"] and problem["detail"]
        assert _field_names(reply) == set(body)
        assert all(error["in"] == "body" for error in problem["errors"])
        # And nothing was stored
        assert db.execute("SELECT count(*) FROM students").fetchone()[0] == 0

    def test_dates_are_only_read_in_iso_form(self, api, db):
        # A number of seconds written as text is a date to pydantic ("0" is 1970-01-01): not to this API
        for date_of_birth, enrolled_on in (("0", "2020-01-01"), ("2000-01-01", "86400"), ("2000-1-1", "2020-01-01")):
            body = {
                "first_name": "A",
                "last_name": "B",
                "email": "iso@example.org",
                "date_of_birth": date_of_birth,
                "enrolled_on": enrolled_on,
            }
            reply = api.send(Call("POST", "/students", json_body=body))
            assert reply.status == 422, body
            assert _field_names(reply) == ({"date_of_birth"} if date_of_birth != "2000-01-01" else {"enrolled_on"})
        assert db.execute("SELECT count(*) FROM students").fetchone()[0] == 0

    def test_missing_required_fields_are_named(self, api):
        reply = api.send(Call("POST", "/students", json_body={}))
        assert reply.status == 422
        assert _field_names(reply) == {"first_name", "last_name", "email"}

    def test_a_json_array_is_not_a_student(self, api):
        reply = api.send(Call("POST", "/students", json_body=[1, 2]))
        assert reply.status == 422

    def test_malformed_json_is_a_bad_request(self, api):
        reply = api.send(
            Call("POST", "/students", body=b'{"first_name": ', headers={"Content-Type": "application/json"})
        )
        assert reply.status == 400
        assert reply.json["type"] == "urn:student-records:problem:malformed-request"

    def test_non_utf8_body_is_a_bad_request(self, api):
        reply = api.send(
            Call("POST", "/students", body=b'{"first_name": "\xff\xfe"}', headers={"Content-Type": "application/json"})
        )
        assert reply.status == 400
        assert "UTF-8" in reply.json["detail"]

    def test_empty_body_is_a_bad_request(self, api):
        reply = api.send(Call("POST", "/students", body=b"", headers={"Content-Type": "application/json"}))
        assert reply.status == 400

    def test_other_media_types_are_refused(self, api):
        reply = api.send(
            Call(
                "POST",
                "/students",
                body=b"first_name=Ada",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
        )
        assert reply.status == 415

    def test_body_over_the_limit_is_refused(self, api, db):
        huge = {"first_name": "A" * 70_000, "last_name": "B", "email": "a@example.org"}
        reply = api.send(Call("POST", "/students", json_body=huge))
        assert reply.status == 413
        assert db.execute("SELECT count(*) FROM students").fetchone()[0] == 0

    def test_deeply_nested_json_is_refused_cleanly(self, api):
        reply = api.send(
            Call("POST", "/students", body=b"[" * 5000 + b"]" * 5000, headers={"Content-Type": "application/json"})
        )
        assert reply.status in (400, 422)

    def test_sql_metacharacters_are_stored_as_text(self, api, db):
        name = "Robert'); DROP TABLE students;--"
        reply = api.send(
            Call(
                "POST",
                "/students",
                json_body={"first_name": name, "last_name": "O'Brien", "email": "bobby@example.org"},
            )
        )
        assert reply.status == 201
        assert reply.json["first_name"] == name
        assert db.execute("SELECT count(*) FROM students").fetchone()[0] == 1


class TestGet:
    def test_existing_student(self, api, create):
        created = create()
        reply = api.send(Call("GET", f"/students/{created['id']}"))
        assert reply.status == 200
        assert reply.json == created
        assert reply.headers["etag"] == '"1"'

    def test_unknown_student_is_404(self, api):
        reply = api.send(Call("GET", "/students/999999"))
        assert reply.status == 404
        assert reply.content_type == PROBLEM
        assert reply.json["type"] == "urn:student-records:problem:not-found"

    def test_malformed_ids_are_client_errors(self, api):
        for raw in ("abc", "0", "-1", "1.5", "99999999999999999999", "1%20OR%201=1", "%27"):
            reply = api.send(Call("GET", f"/students/{raw}"))
            assert reply.status == 422, raw
            assert reply.json["errors"][0]["field"] == "student_id"


class TestUpdate:
    def test_partial_update_bumps_version(self, api, create):
        created = create()
        reply = api.send(Call("PATCH", f"/students/{created['id']}", json_body={"status": "graduated"}))
        assert reply.status == 200
        updated = reply.json
        assert updated["status"] == "graduated"
        assert updated["version"] == 2
        assert updated["first_name"] == created["first_name"]
        assert updated["updated_at"] > created["updated_at"]
        assert reply.headers["etag"] == '"2"'

    def test_date_of_birth_can_be_cleared(self, api, create):
        created = create(date_of_birth="2000-01-01")
        reply = api.send(Call("PATCH", f"/students/{created['id']}", json_body={"date_of_birth": None}))
        assert reply.status == 200
        assert reply.json["date_of_birth"] is None

    def test_stale_if_match_is_412(self, api, create):
        created = create()
        api.send(Call("PATCH", f"/students/{created['id']}", json_body={"last_name": "Byron"}))
        reply = api.send(
            Call("PATCH", f"/students/{created['id']}", json_body={"last_name": "King"}, headers={"If-Match": '"1"'})
        )
        assert reply.status == 412
        assert reply.json["current_version"] == 2

    def test_current_if_match_succeeds(self, api, create):
        created = create()
        reply = api.send(
            Call("PATCH", f"/students/{created['id']}", json_body={"last_name": "King"}, headers={"If-Match": '"1"'})
        )
        assert reply.status == 200

    def test_stale_version_in_body_is_412(self, api, create):
        created = create()
        api.send(Call("PATCH", f"/students/{created['id']}", json_body={"last_name": "Byron"}))
        reply = api.send(Call("PATCH", f"/students/{created['id']}", json_body={"last_name": "King", "version": 1}))
        assert reply.status == 412

    def test_malformed_if_match_is_422(self, api, create):
        created = create()
        reply = api.send(
            Call("PATCH", f"/students/{created['id']}", json_body={"last_name": "K"}, headers={"If-Match": "one"})
        )
        assert reply.status == 422

    def test_unknown_student_is_404(self, api):
        reply = api.send(Call("PATCH", "/students/424242", json_body={"status": "inactive"}))
        assert reply.status == 404

    def test_duplicate_email_is_409(self, api, create):
        create(email="one@example.org")
        second = create(email="two@example.org")
        reply = api.send(Call("PATCH", f"/students/{second['id']}", json_body={"email": "ONE@example.org"}))
        assert reply.status == 409

    def test_empty_patch_is_422(self, api, create):
        created = create()
        reply = api.send(Call("PATCH", f"/students/{created['id']}", json_body={}))
        assert reply.status == 422

    def test_null_for_a_required_field_is_422(self, api, create):
        created = create()
        reply = api.send(Call("PATCH", f"/students/{created['id']}", json_body={"first_name": None}))
        assert reply.status == 422

    def test_unknown_field_is_422(self, api, create):
        created = create()
        reply = api.send(Call("PATCH", f"/students/{created['id']}", json_body={"id": 7}))
        assert reply.status == 422
        assert _field_names(reply) == {"id"}


class TestDelete:
    def test_delete_then_gone(self, api, create):
        created = create()
        reply = api.send(Call("DELETE", f"/students/{created['id']}"))
        assert reply.status == 204
        assert reply.body == b""
        assert api.send(Call("GET", f"/students/{created['id']}")).status == 404

    def test_unknown_student_is_404(self, api):
        assert api.send(Call("DELETE", "/students/31337")).status == 404
