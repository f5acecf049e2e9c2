"""Terms and course offerings on both doors: POST, GET /terms and /offerings, and PATCH /offerings/{offering_id}."""

from tests.contract.academic_records import as_role, new_course, new_enrollment, new_offering, new_student, new_term
from tests.doors import Call

TERM = {"code": "2026-FALL", "starts_on": "2026-09-01", "ends_on": "2026-12-18"}


def _field_names(reply) -> set[str]:
    return {error["field"] for error in reply.json["errors"]}


class TestTerms:
    def test_created_term_is_returned_with_its_location(self, api):
        reply = api.send(Call("POST", "/terms", json_body=TERM))
        assert reply.status == 201
        term = reply.json
        assert reply.headers["location"] == f"/terms/{term['id']}"
        assert {key: term[key] for key in TERM} == TERM
        assert api.send(Call("GET", f"/terms/{term['id']}")).json == term

    def test_duplicate_code_is_409(self, api):
        new_term(api, code="2026-FALL")
        reply = api.send(Call("POST", "/terms", json_body=TERM))
        assert reply.status == 409
        assert _field_names(reply) == {"code"}

    def test_a_term_ends_after_it_starts(self, api):
        reply = api.send(Call("POST", "/terms", json_body={**TERM, "ends_on": "2026-09-01"}))
        assert reply.status == 422
        assert _field_names(reply) == {"ends_on"}

    def test_bad_fields_are_named(self, api):
        body = {"code": "2026-fall", "starts_on": "1 Sept", "ends_on": "2200-01-01", "name": "Fall"}
        reply = api.send(Call("POST", "/terms", json_body=body))
        assert reply.status == 422
        assert _field_names(reply) == set(body)

    def test_term_dates_are_only_read_in_iso_form(self, api):
        reply = api.send(Call("POST", "/terms", json_body={**TERM, "starts_on": "0", "ends_on": "86400"}))
        assert reply.status == 422
        assert _field_names(reply) == {"starts_on", "ends_on"}

    def test_unknown_and_malformed_terms(self, api):
        assert api.send(Call("GET", "/terms/77")).status == 404
        assert api.send(Call("GET", "/terms/x")).status == 422

    def test_pages_of_terms(self, api):
        ids = [new_term(api)["id"] for _ in range(3)]
        first = api.send(Call("GET", "/terms?limit=2")).json
        second = api.send(Call("GET", f"/terms?limit=2&cursor={first['next_cursor']}")).json
        assert [term["id"] for term in first["items"] + second["items"]] == ids
        assert second["next_cursor"] is None

    def test_every_role_reads_terms_but_only_registrars_add_them(self, api):
        term = new_term(api)
        for headers in (as_role("teacher"), as_role("student", student_id=1)):
            assert api.send(Call("GET", f"/terms/{term['id']}", headers=headers)).status == 200
            assert api.send(Call("GET", "/terms", headers=headers)).status == 200
            assert api.send(Call("POST", "/terms", json_body=TERM, headers=headers)).status == 403
        assert api.send(Call("POST", "/terms", json_body=TERM, headers=as_role("registrar"))).status == 201


class TestCreateOffering:
    def test_created_offering_has_every_seat_free(self, api):
        course, term = new_course(api), new_term(api)
        body = {"course_id": course["id"], "term_id": term["id"], "teacher_sub": "teacher-grace", "capacity": 25}
        reply = api.send(Call("POST", "/offerings", json_body=body))
        assert reply.status == 201
        offering = reply.json
        assert reply.headers["location"] == f"/offerings/{offering['id']}"
        assert reply.headers["etag"] == '"1"'
        assert {key: offering[key] for key in body} == body
        assert offering["enrolled_count"] == 0

    def test_unknown_course_or_term_is_422_naming_it(self, api):
        course, term = new_course(api), new_term(api)
        for field, body in (
            ("course_id", {"course_id": 999, "term_id": term["id"]}),
            ("term_id", {"course_id": course["id"], "term_id": 999}),
        ):
            reply = api.send(Call("POST", "/offerings", json_body={**body, "teacher_sub": "t", "capacity": 5}))
            assert reply.status == 422
            assert reply.json["errors"] == [
                {"field": field, "in": "body", "message": reply.json["detail"], "type": "reference"}
            ]

    def test_a_course_is_offered_once_per_term(self, api):
        offering = new_offering(api)
        body = {"course_id": offering["course_id"], "term_id": offering["term_id"], "teacher_sub": "t", "capacity": 5}
        reply = api.send(Call("POST", "/offerings", json_body=body))
        assert reply.status == 409
        assert _field_names(reply) == {"term_id"}

    def test_bad_fields_are_named(self, api):
        body = {"course_id": "1", "term_id": 0, "teacher_sub": "", "capacity": 0}
        reply = api.send(Call("POST", "/offerings", json_body=body))
        assert reply.status == 422
        assert _field_names(reply) == set(body)

    def test_teachers_cannot_create_offerings(self, api):
        course, term = new_course(api), new_term(api)
        body = {"course_id": course["id"], "term_id": term["id"], "teacher_sub": "me", "capacity": 5}
        reply = api.send(Call("POST", "/offerings", json_body=body, headers=as_role("teacher", subject="me")))
        assert reply.status == 403


class TestReadOfferings:
    def test_one_offering_with_its_etag(self, api):
        offering = new_offering(api)
        reply = api.send(Call("GET", f"/offerings/{offering['id']}", headers=as_role("student", student_id=1)))
        assert reply.status == 200
        assert reply.json == offering
        assert reply.headers["etag"] == '"1"'

    def test_unknown_offering_is_404(self, api):
        assert api.send(Call("GET", "/offerings/31337")).status == 404

    def test_list_filters_by_term_and_keeps_the_filter_while_paging(self, api):
        fall, spring = new_term(api), new_term(api)
        in_fall = [new_offering(api, term_id=fall["id"])["id"] for _ in range(3)]
        new_offering(api, term_id=spring["id"])
        first = api.send(Call("GET", f"/offerings?term_id={fall['id']}&limit=2")).json
        second = api.send(Call("GET", f"/offerings?term_id={fall['id']}&limit=2&cursor={first['next_cursor']}")).json
        assert [item["id"] for item in first["items"] + second["items"]] == in_fall
        assert api.send(Call("GET", f"/offerings?term_id={spring['id']}&cursor={first['next_cursor']}")).status == 400
        assert len(api.send(Call("GET", "/offerings")).json["items"]) == 4

    def test_bad_filters_are_422(self, api):
        for query in ("term_id=0", "term_id=x", "teacher=me"):
            assert api.send(Call("GET", f"/offerings?{query}")).status == 422, query


class TestUpdateOffering:
    def test_new_teacher_and_capacity(self, api):
        offering = new_offering(api)
        reply = api.send(
            Call(
                "PATCH",
                f"/offerings/{offering['id']}",
                json_body={"teacher_sub": "teacher-alan", "capacity": 40},
                headers={"If-Match": '"1"'},
            )
        )
        assert reply.status == 200
        assert (reply.json["teacher_sub"], reply.json["capacity"], reply.json["version"]) == ("teacher-alan", 40, 2)
        assert reply.headers["etag"] == '"2"'

    def test_capacity_below_the_seats_taken_is_409(self, api):
        # Given an offering with two seats taken
        offering = new_offering(api, capacity=5)
        for _ in range(2):
            new_enrollment(api, offering["id"], new_student(api)["id"])
        # When its capacity is cut to one
        reply = api.send(Call("PATCH", f"/offerings/{offering['id']}", json_body={"capacity": 1}))
        # Then it is a conflict, and nothing changed; two seats is fine
        assert reply.status == 409
        assert api.send(Call("GET", f"/offerings/{offering['id']}")).json["capacity"] == 5
        assert api.send(Call("PATCH", f"/offerings/{offering['id']}", json_body={"capacity": 2})).status == 200

    def test_stale_if_match_is_412(self, api):
        offering = new_offering(api)
        api.send(Call("PATCH", f"/offerings/{offering['id']}", json_body={"capacity": 10}))
        reply = api.send(
            Call("PATCH", f"/offerings/{offering['id']}", json_body={"capacity": 12}, headers={"If-Match": '"1"'})
        )
        assert reply.status == 412
        assert reply.json["current_version"] == 2

    def test_bad_patches_are_422(self, api):
        offering = new_offering(api)
        for body in ({}, {"capacity": None}, {"course_id": 2}, {"capacity": 10_001}):
            assert api.send(Call("PATCH", f"/offerings/{offering['id']}", json_body=body)).status == 422, body

    def test_unknown_offering_is_404(self, api):
        assert api.send(Call("PATCH", "/offerings/999", json_body={"capacity": 3})).status == 404

    def test_teachers_cannot_change_offerings_even_their_own(self, api):
        offering = new_offering(api, teacher_sub="teacher-grace")
        reply = api.send(
            Call(
                "PATCH",
                f"/offerings/{offering['id']}",
                json_body={"capacity": 99},
                headers=as_role("teacher", subject="teacher-grace"),
            )
        )
        assert reply.status == 403
