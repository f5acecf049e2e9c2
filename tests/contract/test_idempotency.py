"""Idempotency-Key on POST /students: replays answer as the first request did; one key, one student."""

from tests.concurrency import run_concurrently
from tests.doors import Call, FlaskDoor, token_for

BODY = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.org"}


def _post(api, key, body=BODY, token=None):
    headers = {"Idempotency-Key": key}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return api.send(Call("POST", "/students", json_body=body, headers=headers))


def _students(db):
    return db.execute("SELECT count(*) FROM students").fetchone()[0]


def test_replay_gets_the_original_answer(api, db):
    first = _post(api, "key-1")
    replay = _post(api, "key-1")
    assert first.status == replay.status == 201
    assert replay.json == first.json
    assert replay.headers["location"] == first.headers["location"]
    assert _students(db) == 1


def test_same_key_with_another_body_is_422(api, db):
    _post(api, "key-2")
    reply = _post(api, "key-2", {**BODY, "first_name": "Augusta"})
    assert reply.status == 422
    assert reply.json["errors"][0]["field"] == "Idempotency-Key"
    assert _students(db) == 1


def test_a_recorded_conflict_is_replayed_too(api, db, create):
    create(email="ada@example.org")
    first = _post(api, "key-3")
    replay = _post(api, "key-3")
    assert first.status == replay.status == 409
    assert replay.json == first.json


def test_keys_belong_to_their_caller(api, db):
    mine = _post(api, "shared-key", token=token_for("registrar", subject="registrar-a"))
    theirs = _post(
        api, "shared-key", {**BODY, "email": "other@example.org"}, token=token_for("registrar", subject="registrar-b")
    )
    assert mine.status == theirs.status == 201
    assert _students(db) == 2


def test_expired_keys_are_forgotten(api, db):
    _post(api, "key-old")
    db.execute("UPDATE idempotency_keys SET created_at = now() - interval '25 hours'")
    db.execute("DELETE FROM students")
    reply = _post(api, "key-old")
    assert reply.status == 201
    assert _students(db) == 1


def test_malformed_key_is_422(api):
    assert _post(api, "x" * 256).status == 422
    assert _post(api, "with space").status == 422


def test_32_concurrent_creates_with_one_key_create_one_student(db, application):
    # Flask door: threads in one process hit the database concurrently (the Lambda door runs one at a time)
    door = FlaskDoor(application)
    replies = run_concurrently(
        32, lambda _: door.send(Call("POST", "/students", json_body=BODY, headers={"Idempotency-Key": "race-key"}))
    )
    assert {reply.status for reply in replies} == {201}
    assert len({reply.body for reply in replies}) == 1
    assert _students(db) == 1


def test_32_concurrent_creates_with_one_email_give_one_201_and_409s(db, application):
    door = FlaskDoor(application)
    replies = run_concurrently(32, lambda _: door.send(Call("POST", "/students", json_body=BODY)))
    statuses = sorted(reply.status for reply in replies)
    assert statuses == [201] + [409] * 31
    assert _students(db) == 1
