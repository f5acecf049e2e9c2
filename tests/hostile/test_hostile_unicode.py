"""Unicode at the edges, on both doors: lone surrogates, NUL and other control characters are refused as client
errors; every valid string, however unusual (right-to-left, zero-width, emoji, combining marks), is stored and
returned exactly."""

import json
from urllib.parse import quote

import pytest

from tests.doors import Call
from tests.hostile.refusals import assert_refused


def _post_raw(body: bytes) -> Call:
    return Call("POST", "/students", body=body, headers={"Content-Type": "application/json"})


def _field_names(reply) -> set[str]:
    return {error["field"] for error in reply.json["errors"]}


class TestLoneSurrogates:
    @pytest.mark.parametrize(
        "escaped",
        [r"\ud800", r"\udfff", r"a\ud800b", r"\udc00\ud800"],
        ids=["high", "low", "high inside text", "reversed pair"],
    )
    @pytest.mark.parametrize("field", ["first_name", "last_name", "email"])
    def test_an_escaped_lone_surrogate_is_a_malformed_request(self, api, create, database_state, field, escaped):
        # Given a student, and JSON whose one string escapes half of a surrogate pair (no UTF-8 can hold it)
        student_id = create()["id"]
        before = database_state()
        document = {"first_name": "Ada", "last_name": "Lovelace", "email": "x@example.org"}
        body = json.dumps({**document, field: "SURROGATE"}).replace("SURROGATE", escaped).encode()
        patch = json.dumps({field: "SURROGATE"}).replace("SURROGATE", escaped).encode()
        # When it is sent to each write
        for call in (
            _post_raw(body),
            Call("PATCH", f"/students/{student_id}", body=patch, headers={"Content-Type": "application/json"}),
        ):
            # Then it is refused as malformed JSON, before anything tries to encode it
            assert_refused(api.send(call), 400, "malformed-request")
        assert database_state() == before


class TestNulAndControlCharacters:
    """PostgreSQL text cannot hold NUL, so it must be refused before the database as a client error (it was a
    500 until 8484851); other C0 controls and DEL are refused the same way."""

    @pytest.mark.parametrize("control", ["\u0000", "\u001b", "\u007f", "\t"], ids=["NUL", "ESC", "DEL", "TAB"])
    @pytest.mark.parametrize("field", ["first_name", "last_name", "email"])
    def test_a_control_character_in_a_new_students_text_is_422_naming_the_field(
        self, api, database_state, field, control
    ):
        # Given a valid student but for one control character inside one text field
        document = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.org"}
        inside = {
            "first_name": f"A{control}da",
            "last_name": f"Love{control}lace",
            "email": f"a{control}da@example.org",
        }
        before = database_state()
        # When it is posted
        reply = api.send(Call("POST", "/students", json_body={**document, field: inside[field]}))
        # Then that field is refused and nothing is stored
        assert_refused(reply, 422, "validation-failed")
        assert _field_names(reply) == {field}
        assert database_state() == before

    def test_nul_in_an_idempotent_create_is_422_and_not_recorded(self, api, database_state):
        before = database_state()
        reply = api.send(
            Call(
                "POST",
                "/students",
                json_body={"first_name": "A\u0000da", "last_name": "B", "email": "a@example.org"},
                headers={"Idempotency-Key": "nul-in-body"},
            )
        )
        # Refused before the create, so there is no answer to record for replays either
        assert_refused(reply, 422, "validation-failed")
        assert database_state() == before

    @pytest.mark.parametrize("field", ["first_name", "last_name", "email"])
    def test_nul_in_a_patch_is_422_naming_the_field(self, api, create, database_state, field):
        student_id = create()["id"]
        before = database_state()
        reply = api.send(Call("PATCH", f"/students/{student_id}", json_body={field: "x\u0000@example.org"}))
        assert_refused(reply, 422, "validation-failed")
        assert _field_names(reply) == {field}
        assert database_state() == before

    def test_nul_in_a_search_is_422_naming_q(self, api, create, database_state):
        create()
        before = database_state()
        reply = api.send(Call("GET", "/students?q=Ad%00"))
        assert_refused(reply, 422, "validation-failed")
        assert _field_names(reply) == {"q"}
        assert database_state() == before

    @pytest.mark.parametrize(
        ("call", "status"),
        [
            (
                Call(
                    "POST",
                    "/students",
                    json_body={
                        "first_name": "A",
                        "last_name": "B",
                        "email": "a@example.org",
                        "student_number": "AB\u0000C",
                    },
                ),
                422,
            ),
            (
                Call(
                    "POST",
                    "/students",
                    json_body={"first_name": "A", "last_name": "B", "email": "a@example.org", "status": "active\u0000"},
                ),
                422,
            ),
            (
                Call(
                    "POST",
                    "/students",
                    json_body={
                        "first_name": "A",
                        "last_name": "B",
                        "email": "a@example.org",
                        "date_of_birth": "2000-01-01\u0000",
                    },
                ),
                422,
            ),
            (Call("GET", "/students/1%00"), 422),
            (Call("GET", "/students?status=active%00"), 422),
            (Call("GET", "/students?limit=5%00"), 422),
            (Call("GET", "/students?cursor=eyJ2IjoxfQ%00"), 400),
            (Call("PATCH", "/students/1", json_body={"status": "inactive"}, headers={"If-Match": '"1"\u0000'}), 422),
            (
                Call(
                    "POST",
                    "/students",
                    json_body={"first_name": "A", "last_name": "B", "email": "a@example.org"},
                    headers={"Idempotency-Key": "key\u0000"},
                ),
                422,
            ),
        ],
        ids=[
            "student_number",
            "status",
            "date_of_birth",
            "path id",
            "status filter",
            "limit",
            "cursor",
            "If-Match",
            "Idempotency-Key",
        ],
    )
    def test_nul_where_a_format_is_checked_is_refused_before_the_database(
        self, api, create, database_state, call, status
    ):
        create()
        before = database_state()
        reply = api.send(call)
        assert_refused(reply, status)
        assert database_state() == before


UNUSUAL_BUT_VALID_NAMES = {
    "arabic (right to left)": "مريم",
    "hebrew with niqqud": "שָׁלוֹם",
    "right-to-left override": "\u202eevil\u202c",
    "zero-width space": "Zo\u200bë",
    "zero-width non-joiner": "می\u200cخواهم",
    "word joiner and byte order mark": "A\u2060d\ufeffa",
    "emoji zwj sequence with skin tone": "👩🏽\u200d🔬",
    "flag": "🇳🇿",
    "decomposed e acute": "Rene\u0301e",
    "precomposed e acute": "Renée",
    "stacked combining marks": "Z\u0334\u0321a\u0337l\u0336g\u0338o\u0335",
    "hangul jamo": "\u1112\u1161\u11ab",
    "mathematical alphanumerics (astral plane)": "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "devanagari": "देवनागरी",
}


class TestValidUnicodeRoundTrips:
    @pytest.mark.parametrize("name", list(UNUSUAL_BUT_VALID_NAMES.values()), ids=list(UNUSUAL_BUT_VALID_NAMES))
    def test_a_name_is_stored_and_returned_exactly(self, api, db, name):
        # Given a student whose names are unusual but valid Unicode
        body = {"first_name": name, "last_name": name[::-1], "email": "unicode@example.org"}
        # When it is created and read back
        created = api.send(Call("POST", "/students", json_body=body))
        assert created.status == 201, created.body
        read = api.send(Call("GET", f"/students/{created.json['id']}"))
        # Then every code point survives: not normalized, not stripped, not escaped away
        assert (created.json["first_name"], created.json["last_name"]) == (name, name[::-1])
        assert (read.json["first_name"], read.json["last_name"]) == (name, name[::-1])
        assert db.execute("SELECT first_name, last_name FROM students").fetchone() == (name, name[::-1])

    def test_composed_and_decomposed_spellings_stay_two_different_names(self, api, create):
        composed = create(first_name="Renée", email="composed@example.org")
        decomposed = create(first_name="Rene\u0301e", email="decomposed@example.org")
        assert (composed["first_name"], decomposed["first_name"]) == ("Renée", "Rene\u0301e")

    def test_a_unicode_email_round_trips(self, api):
        email = "zoë.ñandú@bücher.example"
        body = {"first_name": "Zoë", "last_name": "Ñandú", "email": email}
        reply = api.send(Call("POST", "/students", json_body=body))
        assert reply.status == 201, reply.body
        assert api.send(Call("GET", f"/students/{reply.json['id']}")).json["email"] == email

    def test_length_is_counted_in_code_points_not_bytes_or_utf16_units(self, api, database_state):
        # Given names of astral-plane characters: 4 bytes in UTF-8, 2 units in UTF-16, 1 code point each
        longest, too_long = "𝔘" * 100, "𝔘" * 101
        # When the longest allowed and one more are posted
        accepted = api.send(
            Call("POST", "/students", json_body={"first_name": longest, "last_name": "B", "email": "long@example.org"})
        )
        before = database_state()
        refused = api.send(
            Call(
                "POST", "/students", json_body={"first_name": too_long, "last_name": "B", "email": "longer@example.org"}
            )
        )
        # Then 100 code points fit, and 101 do not
        assert accepted.status == 201, accepted.body
        assert accepted.json["first_name"] == longest
        assert_refused(refused, 422, "validation-failed")
        assert database_state() == before

    @pytest.mark.parametrize("name", ["مريم", "👩🏽\u200d🔬", "Rene\u0301e"], ids=["arabic", "emoji", "decomposed"])
    def test_a_search_finds_a_name_by_its_unicode_prefix(self, api, create, name):
        student = create(first_name=name)
        create(first_name="Someone", email="else@example.org")
        reply = api.send(Call("GET", f"/students?q={quote(name[:2])}"))
        assert [item["id"] for item in reply.json["items"]] == [student["id"]]


class TestUndecodableQueryStrings:
    @pytest.mark.parametrize(
        ("query", "status"),
        [("q=%FF%FE", 200), ("q=%ED%A0%80", 200), ("status=%FF", 422), ("limit=%C0%B1", 422), ("cursor=%FF%FF", 400)],
        ids=["q invalid utf-8", "q encoded surrogate", "status", "limit (overlong 1)", "cursor"],
    )
    def test_bytes_that_are_not_utf8_in_a_query_are_never_a_server_error(
        self, api, create, database_state, query, status
    ):
        # Given a student; a search that matched it would add a 'list' audit row
        create()
        before = database_state()
        # When a query parameter carries bytes that are not UTF-8
        reply = api.send(Call("GET", f"/students?{query}"))
        # Then a search matches nothing, and a checked parameter is refused
        assert reply.status == status, reply.body
        if status == 200:
            assert reply.json["items"] == []
        else:
            assert_refused(reply, status)
        assert database_state() == before
