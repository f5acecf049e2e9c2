"""Hostile request bodies on both doors: too large, too deep, too wide, odd numbers and types, duplicate keys,
wrong media types, empty. Each is refused with its own problem document and leaves the database as it was."""

import json

import pytest

from deployed.contract_check import OPENAPI_PATH
from handlers.api import create_handler
from local_stack.gateway import build_rest_event, invoke, lambda_response_to_http
from rest_contract.parsing import DEFAULT_MAX_BODY_BYTES as MAX_BODY_BYTES
from tests.doors import ROUTE_TEMPLATES, Call, token_for
from tests.hostile.refusals import assert_refused

JSON_HEADERS = {"Content-Type": "application/json"}
VALID_STUDENT = {"first_name": "Ada", "last_name": "Lovelace", "email": "new@example.org"}


def _raw(method: str, path: str, body: bytes, content_type: str = "application/json") -> Call:
    return Call(method, path, body=body, headers={"Content-Type": content_type})


def _padded_to(size: int, document: dict) -> bytes:
    """A valid JSON document grown to exactly `size` bytes with trailing whitespace, which JSON ignores."""
    encoded = json.dumps(document).encode()
    return encoded + b" " * (size - len(encoded))


def _field_names(reply) -> set[str]:
    return {error["field"] for error in reply.json["errors"]}


class TestSize:
    def test_a_body_of_exactly_the_limit_is_read(self, api):
        # Given a valid student padded to exactly MAX_BODY_BYTES
        body = _padded_to(MAX_BODY_BYTES, VALID_STUDENT)
        # When it is posted
        reply = api.send(_raw("POST", "/students", body))
        # Then the limit is inclusive
        assert reply.status == 201, reply.body

    @pytest.mark.parametrize("size", [MAX_BODY_BYTES + 1, 10 * 1024 * 1024], ids=["one byte over", "10 MB"])
    def test_a_body_over_the_limit_is_413_before_it_is_parsed(self, api, create, database_state, size):
        # Given a student, and a body that would be a valid change if it were read
        student_id = create()["id"]
        before = database_state()
        for call in (
            _raw("POST", "/students", _padded_to(size, VALID_STUDENT)),
            Call(
                "POST",
                "/students",
                body=_padded_to(size, VALID_STUDENT),
                headers={**JSON_HEADERS, "Idempotency-Key": "oversized-create"},
            ),
            _raw("PATCH", f"/students/{student_id}", _padded_to(size, {"last_name": "Byron"})),
        ):
            # When it is sent to each write
            reply = api.send(call)
            # Then it is refused as too large, and nothing was written or recorded
            assert_refused(reply, 413, "payload-too-large")
        assert database_state() == before


class TestShape:
    @pytest.mark.parametrize(
        "body",
        [
            b"[" * 10_000 + b"]" * 10_000,
            b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
            b'{"first_name":' + b"[" * 10_000 + b"]" * 10_000 + b',"last_name":"B","email":"a@example.org"}',
            b"[" * 30_000,  # deep and unterminated
        ],
        ids=["10k nested arrays", "10k nested objects", "10k levels inside a field", "30k unclosed arrays"],
    )
    def test_deeply_nested_json_is_a_malformed_request(self, api, create, database_state, body):
        # Given a student, so that a PATCH has something to change
        student_id = create()["id"]
        before = database_state()
        # When deeply nested JSON is sent to each write
        for method, path in (("POST", "/students"), ("PATCH", f"/students/{student_id}")):
            reply = api.send(_raw(method, path, body))
            # Then the parser's depth limit refuses it cleanly, without a recursion error
            assert_refused(reply, 400, "malformed-request")
        assert database_state() == before

    @pytest.mark.parametrize(
        ("document", "field"),
        [
            ({**VALID_STUDENT, "first_name": [0] * 20_000}, "first_name"),
            ({**VALID_STUDENT, "last_name": "L" * 60_000}, "last_name"),
            ({**VALID_STUDENT, "email": "a" * 60_000 + "@example.org"}, "email"),
            ({**VALID_STUDENT, "status": {str(n): 0 for n in range(4_000)}}, "status"),
        ],
        ids=["20k-element array", "60k-character string", "60k-character email", "4k-key object"],
    )
    def test_huge_values_within_the_size_limit_are_422_naming_the_field(self, api, database_state, document, field):
        # Given a body under the size limit whose one field is huge
        body = json.dumps(document).encode()
        assert len(body) <= MAX_BODY_BYTES
        before = database_state()
        # When it is posted
        reply = api.send(_raw("POST", "/students", body))
        # Then that field is named, and nothing was written
        assert_refused(reply, 422, "validation-failed")
        assert field in _field_names(reply)
        assert database_state() == before

    def test_thousands_of_unknown_fields_are_422(self, api, database_state):
        before = database_state()
        reply = api.send(Call("POST", "/students", json_body={**VALID_STUDENT, **{f"x{n}": n for n in range(3_000)}}))
        assert_refused(reply, 422, "validation-failed")
        assert "x2999" in _field_names(reply)
        assert database_state() == before


class TestNumbersAndTypes:
    @pytest.mark.parametrize(
        "literal", [b"1e309", b"-1e309", b"NaN", b"Infinity", b"1.0", b"1e0", b"true", b'"1"', b"-1", b"0"]
    )
    def test_a_version_that_is_not_a_positive_integer_is_422(self, api, create, database_state, literal):
        # Given a student at version 1
        student_id = create()["id"]
        before = database_state()
        # When a patch names its version with a float, an overflowing number, a boolean or a string
        body = b'{"last_name": "Byron", "version": ' + literal + b"}"
        reply = api.send(_raw("PATCH", f"/students/{student_id}", body))
        # Then the version is refused by type, never rounded or coerced into 1
        assert_refused(reply, 422, "validation-failed")
        assert _field_names(reply) == {"version"}
        assert database_state() == before

    def test_a_number_too_long_to_read_is_refused(self, api, create, database_state):
        student_id = create()["id"]
        before = database_state()
        body = b'{"last_name": "B", "version": ' + b"9" * 5_000 + b"}"
        reply = api.send(_raw("PATCH", f"/students/{student_id}", body))
        # The parser gives up on a 5,000-digit number: a malformed request, not a 500 from int() limits
        assert_refused(reply, 400, "malformed-request")
        assert database_state() == before

    @pytest.mark.parametrize(
        "field", ["first_name", "last_name", "email", "student_number", "date_of_birth", "status", "enrolled_on"]
    )
    def test_non_strings_where_strings_go_are_422_naming_the_field(self, api, database_state, field):
        before = database_state()
        for value in (True, False, 0, 1.5, float("inf"), [], {}, ["Ada"]):
            # When a valid student holds something other than a string in one field
            reply = api.send(_raw("POST", "/students", json.dumps({**VALID_STUDENT, field: value}).encode()))
            # Then the field is refused, not coerced ("True", "0", "inf", the array's only item)
            assert_refused(reply, 422, "validation-failed")
            assert field in _field_names(reply), value
        assert database_state() == before

    def test_a_boolean_where_the_page_size_goes_is_422(self, api):
        assert_refused(api.send(Call("GET", "/students?limit=true")), 422, "validation-failed")


class TestNulls:
    def test_every_null_the_document_offers_in_a_patch_is_accepted(self, api, create):
        # Given a student, and the patch fields openapi.json says may be null
        student_id = create()["id"]
        properties = json.loads(OPENAPI_PATH.read_text())["components"]["schemas"]["StudentPatch"]["properties"]
        nullable = [name for name, schema in properties.items() if {"type": "null"} in schema.get("anyOf", [])]
        refused = []
        for field in nullable:
            # When each is sent as null, beside a real change so that the patch is never empty
            other_change = {"status": "inactive"} if field != "status" else {"last_name": "Byron"}
            reply = api.send(Call("PATCH", f"/students/{student_id}", json_body={field: None, **other_change}))
            if reply.status == 422 and field in _field_names(reply):
                refused.append(field)
        # Then none is refused for being null
        assert refused == []


def _writes(student_id: int) -> list[tuple[str, str, dict[str, str]]]:
    """Every write of a student record, each with the headers it may carry."""
    return [
        ("POST", "/students", {}),
        ("POST", "/students", {"Idempotency-Key": "duplicate-keys"}),
        ("PATCH", f"/students/{student_id}", {}),
    ]


class TestDuplicateKeys:
    """JSON leaves a repeated key's meaning to each parser (RFC 8259 §4): a WAF or validator in front of this API may
    read the first value where this API would keep the last. So a repeated key is refused outright, naming it, and
    the value a check in front saw can never differ from the value stored."""

    @pytest.mark.parametrize(
        ("body", "key"),
        [
            (
                b'{"first_name": "<script>", "last_name": "L", "email": "a@example.org", "first_name": "Ada"}',
                "first_name",
            ),
            (b'{"first_name": "Ada", "last_name": "L", "email": "a@example.org", "first_name": 42}', "first_name"),
            (
                b'{"first_name": "Ada", "last_name": "L", "email": "a@example.org", "first\\u005fname": "Eve"}',
                "first_name",
            ),
            (b'{"email": "a@example.org", "x": {"role": "student", "role": "admin"}, "last_name": "L"}', "role"),
            (b'{"status": "active", "status": "graduated", "status": "withdrawn"}', "status"),
        ],
        ids=["last wins", "invalid last", "escaped spelling", "nested object", "three times"],
    )
    def test_a_repeated_key_is_a_malformed_request_naming_it(self, api, create, database_state, body, key):
        # Given a student, and a body one of whose objects names a key twice
        student_id = create()["id"]
        before = database_state()
        for method, path, headers in _writes(student_id):
            # When it is sent to each write
            reply = api.send(Call(method, path, body=body, headers={**JSON_HEADERS, **headers}))
            # Then it is refused before validation, naming the key, and nothing was written or recorded
            assert_refused(reply, 400, "malformed-request")
            assert f'"{key}"' in reply.json["detail"]
            assert reply.json["errors"] == [
                {"field": key, "in": "body", "message": "appears more than once", "type": "duplicate_key"}
            ]
        assert database_state() == before

    def test_a_repeated_key_is_refused_on_every_route_that_takes_a_body(self, api, create, database_state):
        # Given a student, and a body for each other write whose last key repeats its first
        create()
        before = database_state()
        for method, path in (
            ("POST", "/courses"),
            ("POST", "/terms"),
            ("POST", "/offerings"),
            ("POST", "/offerings/1/enrollments"),
            ("PATCH", "/courses/1"),
            ("PATCH", "/enrollments/1"),
            ("PUT", "/enrollments/1/grade"),
        ):
            # When it is sent
            reply = api.send(_raw(method, path, b'{"code": "A", "title": "T", "code": "B"}'))
            # Then the repeated key is refused before anything looks the record up
            assert_refused(reply, 400, "malformed-request")
            assert reply.json["errors"][0]["field"] == "code", (method, path)
        assert database_state() == before

    def test_a_long_repeated_key_is_named_by_its_first_hundred_characters(self, api, database_state):
        # Given a body that repeats a key of 5,000 characters (jiter's message is parsed for the key: this pins it)
        key = "k" * 5_000
        before = database_state()
        body = json.dumps({"first_name": "Ada"}).encode()[:-1] + f', "{key}": 1, "{key}": 2}}'.encode()
        # When it is posted
        reply = api.send(_raw("POST", "/students", body))
        # Then the problem names the key, cut to a hundred characters
        assert_refused(reply, 400, "malformed-request")
        assert reply.json["errors"][0]["field"] == "k" * 100 + "…"
        assert database_state() == before

    def test_one_key_in_two_objects_is_no_repetition(self, api, database_state):
        # Given a body whose array holds two objects with the same key: each names it once
        before = database_state()
        body = b'{"first_name": [{"a": 1}, {"a": 2}], "last_name": "L", "email": "a@example.org"}'
        # When it is posted
        reply = api.send(_raw("POST", "/students", body))
        # Then it is parsed, and refused only for the field's type
        assert_refused(reply, 422, "validation-failed")
        assert _field_names(reply) == {"first_name"}
        assert database_state() == before


class TestMediaTypes:
    @pytest.mark.parametrize(
        "content_type",
        [
            "text/plain",
            "application/xml",
            "multipart/form-data; boundary=x",
            "application/jsonx",
            "json",
            "text/json",
            "text/x+json",
            "",
            "application/x-www-form-urlencoded",
            "application/octet-stream",
            None,
        ],
    )
    def test_a_json_body_under_another_media_type_or_none_is_415(self, api, create, database_state, content_type):
        # Given a student, and bodies that would be valid JSON writes
        student_id = create()["id"]
        before = database_state()
        for method, path, document in (
            ("POST", "/students", VALID_STUDENT),
            ("PATCH", f"/students/{student_id}", {"last_name": "Byron"}),
        ):
            # When they are declared as another media type, or sent with no Content-Type at all
            headers = {} if content_type is None else {"Content-Type": content_type}
            reply = api.send(Call(method, path, body=json.dumps(document).encode(), headers=headers))
            # Then they are refused by media type, not parsed anyway (the README's 415 for a body not sent as JSON)
            assert_refused(reply, 415, "unsupported-media-type")
            if content_type is None:
                assert "no Content-Type" in reply.json["detail"]
        assert database_state() == before

    @pytest.mark.parametrize(
        "order",
        [
            ("text/plain", "application/json"),
            ("application/json", "text/plain"),
            ("application/json", "application/json"),
        ],
        ids=["json last", "json first", "json twice"],
    )
    def test_a_repeated_content_type_is_a_malformed_request_at_the_lambda_door(self, db, application, order):
        # Given a create whose Content-Type is sent twice: API Gateway hands the Lambda door both values (gunicorn
        # refuses such a request with a 400 of its own before the Flask door sees it: RFC 9110 §5.3)
        event = build_rest_event(
            "POST",
            "/students",
            body=json.dumps(VALID_STUDENT).encode(),
            headers=[("Authorization", f"Bearer {token_for('admin')}"), *[("Content-Type", value) for value in order]],
            route_templates=ROUTE_TEMPLATES,
        )
        # When the Lambda door handles it
        status, _headers, body = lambda_response_to_http(
            invoke(create_handler(application=application), event, function_name="student-records-api")
        )
        # Then neither value is picked: the request is refused as ambiguous, and nothing is written
        assert status == 400, body
        assert json.loads(body)["type"] == "urn:student-records:problem:malformed-request"
        assert db.execute("SELECT count(*) FROM students").fetchone() == (0,)

    @pytest.mark.parametrize(
        "content_type", ["application/json; charset=utf-8", "Application/JSON", "application/merge-patch+json"]
    )
    def test_json_under_a_json_media_type_is_read(self, api, content_type):
        reply = api.send(_raw("POST", "/students", json.dumps(VALID_STUDENT).encode(), content_type))
        assert reply.status == 201, reply.body


class TestEmptyBodies:
    @pytest.mark.parametrize(
        ("body", "status", "problem_type"),
        [
            (b"", 400, "malformed-request"),
            (b" \r\n\t ", 400, "malformed-request"),
            (b"null", 422, "validation-failed"),
            (b"[]", 422, "validation-failed"),
            (b'""', 422, "validation-failed"),
            (b"{}", 422, "validation-failed"),
        ],
        ids=["nothing", "whitespace", "null", "empty array", "empty string", "empty object"],
    )
    def test_an_empty_body_is_refused_on_every_write(self, api, create, database_state, body, status, problem_type):
        # Given a student
        student_id = create()["id"]
        before = database_state()
        # When each write is sent an empty or contentless body
        for method, path in (("POST", "/students"), ("PATCH", f"/students/{student_id}")):
            reply = api.send(_raw(method, path, body))
            # Then it is refused (a patch that changes nothing included), and nothing changed
            assert_refused(reply, status, problem_type)
        assert database_state() == before

    def test_a_write_without_body_or_media_type_is_400(self, api, create, database_state):
        student_id = create()["id"]
        before = database_state()
        for method, path in (("POST", "/students"), ("PATCH", f"/students/{student_id}")):
            assert_refused(api.send(Call(method, path)), 400, "malformed-request")
        assert database_state() == before


class TestBodiesWhereNoneIsTaken:
    @pytest.mark.parametrize(
        "body",
        [b"\xff\xfe not UTF-8", b'{"a": 1, "a": 2}', b"x" * (MAX_BODY_BYTES + 1)],
        ids=["not UTF-8", "a repeated key", "over the limit"],
    )
    def test_a_route_that_takes_no_body_never_reads_one(self, api, create, body):
        # Given a student, and a body no write would accept, under no media type or a wrong one
        student_id = create()["id"]
        for call, status in (
            (Call("GET", "/health", body=body, as_admin=False), 200),
            (Call("GET", f"/students/{student_id}", body=body, headers={"Content-Type": "text/plain"}), 200),
            (Call("DELETE", f"/students/{student_id}", body=body), 204),
        ):
            # When it comes with a request to a route that takes no body
            reply = api.send(call)
            # Then the route answers as it would without it: the body is never read
            assert reply.status == status, (call.method, call.path, reply.body[:200])
