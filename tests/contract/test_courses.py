"""The course catalogue on both doors: POST, GET, PATCH, DELETE /courses/{course_id} and GET /courses."""

from tests.contract.academic_records import as_role, new_course, new_offering
from tests.doors import Call

PROBLEM = "application/problem+json"
BODY = {"code": "CS-101", "title": "Introduction to Programming", "credits": 7.5, "department": "Computer Science"}


def _field_names(reply) -> set[str]:
    return {error["field"] for error in reply.json["errors"]}


def _seed(db, count: int) -> None:
    with db.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO courses (code, title, credits, department) VALUES (%s, %s, 3, 'Mathematics')",
            [(f"MATH-{i}", f"Topic {i}") for i in range(count)],
        )


class TestCreate:
    def test_created_course_is_returned_with_location_and_etag(self, api):
        # Given a valid new course
        # When it is posted
        reply = api.send(Call("POST", "/courses", json_body=BODY))
        # Then it is created at version 1, with where to find it
        assert reply.status == 201
        assert reply.content_type == "application/json"
        course = reply.json
        assert reply.headers["location"] == f"/courses/{course['id']}"
        assert reply.headers["etag"] == '"1"'
        assert {key: course[key] for key in BODY} == BODY
        assert course["version"] == 1

    def test_code_is_unique_whatever_its_case(self, api):
        # Given a course CS-101
        new_course(api, code="CS-101")
        # When another course takes cs-101
        reply = api.send(Call("POST", "/courses", json_body={**BODY, "code": "cs-101"}))
        # Then it is a conflict naming the code
        assert reply.status == 409
        assert reply.content_type == PROBLEM
        assert reply.json["type"] == "urn:student-records:problem:conflict"
        assert _field_names(reply) == {"code"}

    def test_every_bad_field_is_named_and_nothing_is_stored(self, api, db):
        body = {"code": "CS 101!", "title": "", "credits": 2.25, "department": 7, "level": "advanced"}
        reply = api.send(Call("POST", "/courses", json_body=body))
        assert reply.status == 422
        assert reply.json["type"] == "urn:student-records:problem:validation-failed"
        assert _field_names(reply) == set(body)
        assert db.execute("SELECT count(*) FROM courses").fetchone()[0] == 0

    def test_missing_fields_are_named(self, api):
        reply = api.send(Call("POST", "/courses", json_body={}))
        assert reply.status == 422
        assert _field_names(reply) == {"code", "title", "credits", "department"}

    def test_credits_are_whole_or_half_numbers_from_0_to_30(self, api):
        for credits in (0, 0.5, 30):
            assert new_course(api, credits=credits)["credits"] == credits
        for credits in (-1, 30.5, 3.3, "3", None):
            reply = api.send(Call("POST", "/courses", json_body={**BODY, "code": "PHYS-1", "credits": credits}))
            assert reply.status == 422, credits
            assert _field_names(reply) == {"credits"}

    def test_control_characters_are_refused(self, api):
        reply = api.send(Call("POST", "/courses", json_body={**BODY, "title": "Intro\u0000duction"}))
        assert reply.status == 422
        assert _field_names(reply) == {"title"}

    def test_malformed_json_is_a_bad_request(self, api):
        reply = api.send(Call("POST", "/courses", body=b'{"code": ', headers={"Content-Type": "application/json"}))
        assert reply.status == 400
        assert reply.json["type"] == "urn:student-records:problem:malformed-request"

    def test_other_media_types_are_refused(self, api):
        reply = api.send(Call("POST", "/courses", body=b"code=CS-101", headers={"Content-Type": "text/plain"}))
        assert reply.status == 415

    def test_teachers_and_students_cannot_add_courses(self, api, db):
        for headers in (as_role("teacher"), as_role("student", student_id=1)):
            assert api.send(Call("POST", "/courses", json_body=BODY, headers=headers)).status == 403
        assert db.execute("SELECT count(*) FROM courses").fetchone()[0] == 0


class TestGet:
    def test_existing_course_with_its_etag(self, api):
        created = new_course(api)
        reply = api.send(Call("GET", f"/courses/{created['id']}"))
        assert reply.status == 200
        assert reply.json == created
        assert reply.headers["etag"] == '"1"'

    def test_every_role_reads_the_catalogue(self, api):
        created = new_course(api)
        for headers in (as_role("registrar"), as_role("teacher"), as_role("student", student_id=9)):
            reply = api.send(Call("GET", f"/courses/{created['id']}", headers=headers))
            assert reply.status == 200
            assert reply.json == created

    def test_unknown_course_is_404(self, api):
        reply = api.send(Call("GET", "/courses/4242"))
        assert reply.status == 404
        assert reply.content_type == PROBLEM
        assert reply.json["type"] == "urn:student-records:problem:not-found"

    def test_malformed_ids_are_422(self, api):
        for raw in ("abc", "0", "-1", "99999999999999999999"):
            reply = api.send(Call("GET", f"/courses/{raw}"))
            assert reply.status == 422, raw
            assert reply.json["errors"][0]["field"] == "course_id"


class TestUpdate:
    def test_partial_update_bumps_version(self, api):
        created = new_course(api)
        reply = api.send(Call("PATCH", f"/courses/{created['id']}", json_body={"title": "Data Structures"}))
        assert reply.status == 200
        assert reply.json["title"] == "Data Structures"
        assert reply.json["code"] == created["code"]
        assert reply.json["version"] == 2
        assert reply.headers["etag"] == '"2"'

    def test_stale_if_match_is_412(self, api):
        created = new_course(api)
        api.send(Call("PATCH", f"/courses/{created['id']}", json_body={"credits": 4}))
        reply = api.send(
            Call("PATCH", f"/courses/{created['id']}", json_body={"credits": 5}, headers={"If-Match": '"1"'})
        )
        assert reply.status == 412
        assert reply.json["current_version"] == 2

    def test_stale_version_in_body_is_412(self, api):
        created = new_course(api)
        api.send(Call("PATCH", f"/courses/{created['id']}", json_body={"credits": 4}))
        reply = api.send(Call("PATCH", f"/courses/{created['id']}", json_body={"credits": 5, "version": 1}))
        assert reply.status == 412

    def test_code_taken_by_another_course_is_409(self, api):
        new_course(api, code="CS-101")
        other = new_course(api, code="CS-102")
        reply = api.send(Call("PATCH", f"/courses/{other['id']}", json_body={"code": "Cs-101"}))
        assert reply.status == 409
        assert _field_names(reply) == {"code"}

    def test_empty_null_and_unknown_fields_are_422(self, api):
        created = new_course(api)
        for body in ({}, {"title": None}, {"id": 3}, {"credits": 1.2}):
            reply = api.send(Call("PATCH", f"/courses/{created['id']}", json_body=body))
            assert reply.status == 422, body

    def test_unknown_course_is_404(self, api):
        assert api.send(Call("PATCH", "/courses/4242", json_body={"title": "X"})).status == 404

    def test_teachers_cannot_change_courses(self, api):
        created = new_course(api)
        reply = api.send(
            Call("PATCH", f"/courses/{created['id']}", json_body={"title": "X"}, headers=as_role("teacher"))
        )
        assert reply.status == 403


class TestDelete:
    def test_delete_then_gone(self, api):
        created = new_course(api)
        reply = api.send(Call("DELETE", f"/courses/{created['id']}"))
        assert reply.status == 204
        assert reply.body == b""
        assert api.send(Call("GET", f"/courses/{created['id']}")).status == 404

    def test_an_offered_course_stays_in_the_catalogue(self, api):
        # Given a course with an offering
        offering = new_offering(api)
        # When it is deleted
        reply = api.send(Call("DELETE", f"/courses/{offering['course_id']}"))
        # Then it is a conflict, and the course is still there
        assert reply.status == 409
        assert reply.json["type"] == "urn:student-records:problem:conflict"
        assert api.send(Call("GET", f"/courses/{offering['course_id']}")).status == 200

    def test_unknown_course_is_404(self, api):
        assert api.send(Call("DELETE", "/courses/4242")).status == 404

    def test_students_cannot_delete_courses(self, api):
        created = new_course(api)
        reply = api.send(Call("DELETE", f"/courses/{created['id']}", headers=as_role("student", student_id=1)))
        assert reply.status == 403


def _pages(api, path: str) -> list[dict]:
    items, cursor = [], None
    while True:
        separator = "&" if "?" in path else "?"
        reply = api.send(Call("GET", path + (f"{separator}cursor={cursor}" if cursor else "")))
        assert reply.status == 200, reply.body
        items += reply.json["items"]
        cursor = reply.json["next_cursor"]
        if cursor is None:
            return items


class TestList:
    def test_empty(self, api):
        reply = api.send(Call("GET", "/courses"))
        assert reply.status == 200
        assert reply.json == {"items": [], "next_cursor": None}

    def test_cursor_walks_every_course_once_in_id_order(self, api, db):
        _seed(db, 23)
        ids = [course["id"] for course in _pages(api, "/courses?limit=5")]
        assert ids == sorted(ids) and len(ids) == 23 == len(set(ids))

    def test_search_by_code_or_title_prefix_case_insensitively(self, api):
        new_course(api, code="CS-101", title="Programming")
        new_course(api, code="MATH-1", title="Calculus")
        new_course(api, code="PHYS-2", title="Computational physics")
        found = api.send(Call("GET", "/courses?q=c")).json["items"]
        assert [course["code"] for course in found] == ["CS-101", "MATH-1", "PHYS-2"]
        by_code = api.send(Call("GET", "/courses?q=cs-1")).json["items"]
        assert [course["code"] for course in by_code] == ["CS-101"]
        by_title = api.send(Call("GET", "/courses?q=COMPUT")).json["items"]
        assert [course["code"] for course in by_title] == ["PHYS-2"]

    def test_search_treats_like_wildcards_literally(self, api):
        new_course(api, code="CS-101", title="100% pass")
        assert api.send(Call("GET", "/courses?q=%25")).json["items"] == []
        assert api.send(Call("GET", "/courses?q=_S")).json["items"] == []
        assert len(api.send(Call("GET", "/courses?q=100%25")).json["items"]) == 1

    def test_search_pages_keep_the_search(self, api, db):
        _seed(db, 12)
        items = _pages(api, "/courses?q=math-1&limit=2")
        assert sorted(course["code"] for course in items) == ["MATH-1", "MATH-10", "MATH-11"]

    def test_search_uses_an_index(self, db):
        # Given enough courses that a scan would cost more than the index
        _seed(db, 5000)
        db.execute("ANALYZE courses")
        # When the search is planned
        plan = "\n".join(
            row[0]
            for row in db.execute(
                "EXPLAIN SELECT id FROM courses WHERE (lower(code) LIKE 'math-12%' OR lower(title) LIKE 'math-12%')"
                " AND id > 0 ORDER BY id LIMIT 51"
            )
        )
        # Then it reads the prefix indexes
        assert "courses_code_prefix_idx" in plan, plan

    def test_students_read_the_catalogue(self, api):
        new_course(api)
        reply = api.send(Call("GET", "/courses", headers=as_role("student", student_id=3)))
        assert reply.status == 200
        assert len(reply.json["items"]) == 1

    def test_bad_parameters_are_422(self, api):
        for query in ("limit=0", "limit=201", "limit=x", "q=", "offset=3", "q=%00"):
            reply = api.send(Call("GET", f"/courses?{query}"))
            assert reply.status == 422, query
            assert reply.json["errors"][0]["in"] == "query"

    def test_forged_cursor_is_400(self, api):
        reply = api.send(Call("GET", "/courses?cursor=Zm9yZ2Vk"))
        assert reply.status == 400
        assert reply.json["type"] == "urn:student-records:problem:invalid-cursor"

    def test_cursor_is_bound_to_its_search_and_its_collection(self, api, db):
        _seed(db, 5)
        cursor = api.send(Call("GET", "/courses?limit=2")).json["next_cursor"]
        assert api.send(Call("GET", f"/courses?limit=2&q=math&cursor={cursor}")).status == 400
        assert api.send(Call("GET", f"/terms?cursor={cursor}")).status == 400
