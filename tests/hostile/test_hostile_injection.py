"""SQL injection in every parameter, on both doors: the path id, each query parameter, each body field (values
and names) and the headers If-Match, Idempotency-Key and X-Request-Id. A parameter with a format refuses
the text before any SQL runs; a free-text parameter carries it as data, stored and matched literally."""

from urllib.parse import quote

import pytest

from tests.doors import Call
from tests.hostile.refusals import assert_refused

SQL_INJECTIONS = [
    "' OR '1'='1",
    "1 OR 1=1",
    "1; DROP TABLE students; --",
    "1' UNION SELECT NULL, version() --",
    "') OR true --",
    "$$; DELETE FROM students; $$",
    "1' AND pg_sleep(5) IS NULL --",
    "\\'; TRUNCATE students, student_audit; --",
]
# The same attacks with no whitespace, so that they also fit formats that only exclude whitespace.
SQL_INJECTIONS_WITHOUT_SPACES = [attack.replace(" ", "/**/") for attack in SQL_INJECTIONS]
ROUTES_WITH_AN_ID = [
    ("GET", "/students/{id}"),
    ("PATCH", "/students/{id}"),
    ("DELETE", "/students/{id}"),
    ("GET", "/students/{id}/audit"),
]


def _field_names(reply) -> set[str]:
    return {error["field"] for error in reply.json["errors"]}


def _audit_actions(db) -> list[tuple[int, str]]:
    return db.execute("SELECT student_id, action FROM student_audit ORDER BY id").fetchall()


class TestPath:
    @pytest.mark.parametrize(("method", "template"), ROUTES_WITH_AN_ID, ids=[f"{m} {t}" for m, t in ROUTES_WITH_AN_ID])
    def test_sql_in_the_student_id_is_422(self, api, create, database_state, method, template):
        # Given student 1, whose id starts most attacks, so that a lenient parser would reach it
        create()
        before = database_state()
        for attack in SQL_INJECTIONS:
            # When the attack is the path id
            path = template.replace("{id}", quote(attack, safe=""))
            reply = api.send(Call(method, path, json_body={"status": "withdrawn"} if method == "PATCH" else None))
            # Then the id is refused as malformed
            assert_refused(reply, 422, "validation-failed")
            assert _field_names(reply) == {"student_id"}, attack
        # And nothing was read, changed or deleted
        assert database_state() == before

    @pytest.mark.parametrize(("method", "template"), ROUTES_WITH_AN_ID, ids=[f"{m} {t}" for m, t in ROUTES_WITH_AN_ID])
    def test_an_id_with_a_trailing_newline_is_422(self, request, api, create, database_state, method, template):
        # Given student 1
        create()
        before = database_state()
        # When its id is followed by an encoded newline
        reply = api.send(
            Call(
                method,
                template.replace("{id}", "1%0A"),
                json_body={"status": "withdrawn"} if method == "PATCH" else None,
            )
        )
        # Then the id is malformed, as on the other door
        assert_refused(reply, 422, "validation-failed")
        assert database_state() == before


class TestQuery:
    @pytest.mark.parametrize(
        ("path", "parameter", "status"),
        [
            ("/students", "limit", 422),
            ("/students", "status", 422),
            ("/students", "cursor", 400),
            ("/students/1/audit", "limit", 422),
            ("/students/1/audit", "cursor", 400),
        ],
        ids=["list limit", "list status", "list cursor", "audit limit", "audit cursor"],
    )
    def test_sql_in_a_checked_query_parameter_is_refused(self, api, create, database_state, path, parameter, status):
        create()
        before = database_state()
        for attack in SQL_INJECTIONS:
            reply = api.send(Call("GET", f"{path}?{parameter}={quote(attack, safe='')}"))
            assert_refused(reply, status)
            assert _field_names(reply) == {parameter}, attack
        assert database_state() == before

    @pytest.mark.parametrize("attack", SQL_INJECTIONS)
    def test_sql_in_a_search_is_matched_as_literal_text(self, api, create, db, attack):
        # Given an ordinary student, and one whose first name is the attack itself
        create(first_name="Ada", email="ada@example.org")
        literal = create(first_name=attack, email="literal@example.org")
        students_before = db.execute("SELECT * FROM students ORDER BY id").fetchall()
        audit_before = _audit_actions(db)
        # When the attack is the search prefix
        reply = api.send(Call("GET", f"/students?q={quote(attack, safe='')}"))
        # Then it finds only the student whose name starts with that text
        assert reply.status == 200, reply.body
        assert [item["id"] for item in reply.json["items"]] == [literal["id"]]
        # And the only trace in the database is the audit row of that legitimate read
        assert db.execute("SELECT * FROM students ORDER BY id").fetchall() == students_before
        assert _audit_actions(db) == [*audit_before, (literal["id"], "list")]


class TestBody:
    @pytest.mark.parametrize("attack", SQL_INJECTIONS)
    def test_sql_in_a_new_students_text_fields_is_stored_verbatim(self, api, create, db, attack):
        # Given a student who must not be touched
        bystander = create(email="bystander@example.org")
        bystander_row = db.execute("SELECT * FROM students").fetchone()
        # When a student is created with the attack in every free-text field
        email = attack.replace(" ", "/**/") + "@example.org"
        body = {"first_name": attack, "last_name": attack, "email": email}
        reply = api.send(Call("POST", "/students", json_body=body))
        # Then it is one more student holding exactly that text, and the bystander is as it was
        assert reply.status == 201, reply.body
        assert db.execute(
            "SELECT first_name, last_name, email FROM students WHERE id = %s", (reply.json["id"],)
        ).fetchone() == (attack, attack, email)
        assert db.execute("SELECT * FROM students WHERE id = %s", (bystander["id"],)).fetchone() == bystander_row
        assert db.execute("SELECT count(*) FROM students").fetchone() == (2,)

    @pytest.mark.parametrize("attack", SQL_INJECTIONS)
    def test_sql_in_a_patchs_text_fields_is_stored_verbatim(self, api, create, db, attack):
        # Given the student to change, and one who must not be touched
        target, bystander = create(email="target@example.org"), create(email="bystander@example.org")
        bystander_row = db.execute("SELECT * FROM students WHERE id = %s", (bystander["id"],)).fetchone()
        # When the attack is patched into every free-text field of the target
        email = attack.replace(" ", "/**/") + "@example.org"
        reply = api.send(
            Call(
                "PATCH",
                f"/students/{target['id']}",
                json_body={"first_name": attack, "last_name": attack, "email": email},
            )
        )
        # Then the target holds exactly that text, one version later, and the bystander is as it was
        assert reply.status == 200, reply.body
        assert db.execute(
            "SELECT first_name, last_name, email, version FROM students WHERE id = %s", (target["id"],)
        ).fetchone() == (attack, attack, email, 2)
        assert db.execute("SELECT * FROM students WHERE id = %s", (bystander["id"],)).fetchone() == bystander_row

    @pytest.mark.parametrize(
        ("method", "field"),
        [
            ("POST", "student_number"),
            ("POST", "date_of_birth"),
            ("POST", "status"),
            ("POST", "enrolled_on"),
            ("PATCH", "date_of_birth"),
            ("PATCH", "status"),
            ("PATCH", "enrolled_on"),
            ("PATCH", "version"),
        ],
    )
    def test_sql_in_a_field_with_a_format_is_422_naming_it(self, api, create, database_state, method, field):
        # Given a student
        student_id = create()["id"]
        before = database_state()
        base = {"first_name": "A", "last_name": "B", "email": "other@example.org"} if method == "POST" else {}
        path = "/students" if method == "POST" else f"/students/{student_id}"
        for attack in SQL_INJECTIONS + SQL_INJECTIONS_WITHOUT_SPACES:
            # When the attack is the value of a field that has a format (or, for version, a type)
            reply = api.send(Call(method, path, json_body={**base, field: attack}))
            # Then that field is refused
            assert_refused(reply, 422, "validation-failed")
            assert _field_names(reply) == {field}, attack
        # And nothing was written
        assert database_state() == before

    @pytest.mark.parametrize(
        "name",
        [
            "status = 'withdrawn' WHERE true; --",
            "first_name\" = 'x', \"email",
            # Columns a patch may not set, though they exist
            "id",
            "student_number",
            "created_at",
            "version = version + 100",
        ],
    )
    def test_sql_in_a_patchs_field_names_is_422(self, api, create, database_state, name):
        # Given a student
        student_id = create()["id"]
        before = database_state()
        # When a patch names a field that is SQL, or a column outside the patchable ones
        reply = api.send(Call("PATCH", f"/students/{student_id}", json_body={"last_name": "B", name: "x"}))
        # Then that name is refused: it never reaches the SET clause
        assert_refused(reply, 422, "validation-failed")
        assert _field_names(reply) == {name}
        assert database_state() == before


class TestHeaders:
    def test_sql_in_if_match_is_422(self, api, create, database_state):
        student_id = create()["id"]
        before = database_state()
        for attack in SQL_INJECTIONS + [f'"1" {attack}' for attack in SQL_INJECTIONS] + SQL_INJECTIONS_WITHOUT_SPACES:
            reply = api.send(
                Call(
                    "PATCH", f"/students/{student_id}", json_body={"status": "withdrawn"}, headers={"If-Match": attack}
                )
            )
            assert_refused(reply, 422, "validation-failed")
            assert _field_names(reply) == {"If-Match"}, attack
        assert database_state() == before

    def test_sql_with_spaces_in_an_idempotency_key_is_422(self, api, database_state):
        before = database_state()
        for attack in SQL_INJECTIONS:
            reply = api.send(
                Call(
                    "POST",
                    "/students",
                    json_body={"first_name": "A", "last_name": "B", "email": "a@example.org"},
                    headers={"Idempotency-Key": attack},
                )
            )
            assert_refused(reply, 422, "validation-failed")
            assert _field_names(reply) == {"Idempotency-Key"}, attack
        assert database_state() == before

    @pytest.mark.parametrize("attack", SQL_INJECTIONS_WITHOUT_SPACES)
    def test_sql_without_spaces_in_an_idempotency_key_is_only_a_key(self, api, db, attack):
        # Given a key that is visible ASCII, as allowed, but spells an attack
        idempotent_create = Call(
            "POST",
            "/students",
            headers={"Idempotency-Key": attack},
            json_body={"first_name": "A", "last_name": "B", "email": "a@example.org"},
        )
        # When the same create is sent twice with it
        first, replay = api.send(idempotent_create), api.send(idempotent_create)
        # Then it created one student, replayed the same answer, and is stored as the text it is
        assert (first.status, replay.status) == (201, 201), (first.body, replay.body)
        assert replay.json == first.json
        assert db.execute("SELECT count(*) FROM students").fetchone() == (1,)
        assert db.execute("SELECT key FROM idempotency_keys").fetchall() == [(attack,)]

    def test_sql_in_x_request_id_never_becomes_the_correlation_id(self, api, create, db):
        # Given a student
        student_id = create()["id"]
        attacks = SQL_INJECTIONS + SQL_INJECTIONS_WITHOUT_SPACES
        # When it is read with each attack as X-Request-Id
        replies = [
            api.send(Call("GET", f"/students/{student_id}", headers={"X-Request-Id": attack})) for attack in attacks
        ]
        # Then each read is served, and audited under a correlation id of the API's own making
        assert [reply.status for reply in replies] == [200] * len(attacks)
        assert not {reply.headers["x-request-id"] for reply in replies} & set(attacks)
        assert db.execute("SELECT correlation_id FROM student_audit WHERE action = 'read' ORDER BY id").fetchall() == [
            (reply.headers["x-request-id"],) for reply in replies
        ]
