"""Every read and write of a student record is in the audit trail, written with the access itself."""

from tests.doors import Call, token_for


def _audit(db, student_id):
    return db.execute(
        "SELECT actor, actor_role, action, correlation_id FROM student_audit WHERE student_id = %s ORDER BY id",
        (student_id,),
    ).fetchall()


def test_each_access_is_recorded_with_who_what_and_correlation_id(api, db):
    registrar = token_for("registrar", subject="registrar-7")
    as_registrar = {"Authorization": f"Bearer {registrar}"}
    created = api.send(
        Call(
            "POST",
            "/students",
            json_body={"first_name": "A", "last_name": "B", "email": "a@example.org"},
            headers=as_registrar,
            as_admin=False,
        )
    )
    student_id = created.json["id"]
    read = api.send(Call("GET", f"/students/{student_id}", headers=as_registrar, as_admin=False))
    api.send(Call("GET", "/students?limit=5", headers=as_registrar, as_admin=False))
    api.send(
        Call("PATCH", f"/students/{student_id}", json_body={"status": "inactive"}, headers=as_registrar, as_admin=False)
    )
    api.send(Call("DELETE", f"/students/{student_id}", headers=as_registrar, as_admin=False))
    rows = _audit(db, student_id)
    assert [(actor, role, action) for actor, role, action, _ in rows] == [
        ("registrar-7", "registrar", action) for action in ("create", "read", "list", "update", "delete")
    ]
    assert rows[1][3] == read.headers["x-request-id"]


def test_failed_writes_leave_no_audit_row(api, db, create):
    create(email="taken@example.org")
    other = create(email="free@example.org")["id"]
    before = _audit(db, other)
    reply = api.send(Call("PATCH", f"/students/{other}", json_body={"email": "TAKEN@example.org"}))
    assert reply.status == 409
    assert _audit(db, other) == before


def test_admins_page_through_the_audit_trail(api, create):
    student_id = create()["id"]
    for _ in range(6):
        api.send(Call("GET", f"/students/{student_id}"))
    actions, cursor = [], None
    while True:
        path = f"/students/{student_id}/audit?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = api.send(Call("GET", path)).json
        actions += [entry["action"] for entry in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert actions == ["create"] + ["read"] * 6


def test_audit_trail_outlives_the_record(api, create):
    student_id = create()["id"]
    api.send(Call("DELETE", f"/students/{student_id}"))
    entries = api.send(Call("GET", f"/students/{student_id}/audit")).json["items"]
    assert [entry["action"] for entry in entries] == ["create", "delete"]


def test_audit_cursor_is_bound_to_its_student(api, create):
    first, second = create(email="one@example.org")["id"], create(email="two@example.org")["id"]
    api.send(Call("GET", f"/students/{first}"))
    cursor = api.send(Call("GET", f"/students/{first}/audit?limit=1")).json["next_cursor"]
    assert api.send(Call("GET", f"/students/{second}/audit?cursor={cursor}")).status == 400
