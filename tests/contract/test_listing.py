"""GET /students (keyset pages, filters, search) and GET /students/count on both doors."""

from student_records.students.repository import COUNT
from tests.doors import Call


def _seed(db, rows):
    with db.cursor() as cursor:
        cursor.executemany("INSERT INTO students (first_name, last_name, email, status) VALUES (%s, %s, %s, %s)", rows)


def _pages(api, path):
    ids, cursor = [], None
    while True:
        sep = "&" if "?" in path else "?"
        reply = api.send(Call("GET", path + (f"{sep}cursor={cursor}" if cursor else "")))
        assert reply.status == 200, reply.body
        ids += [item["id"] for item in reply.json["items"]]
        cursor = reply.json["next_cursor"]
        if cursor is None:
            return ids


class TestList:
    def test_empty(self, api):
        reply = api.send(Call("GET", "/students"))
        assert reply.status == 200
        assert reply.json == {"items": [], "next_cursor": None}

    def test_default_page_is_50_in_id_order(self, api, db):
        _seed(db, [(f"F{i}", f"L{i}", f"s{i}@example.org", "active") for i in range(60)])
        reply = api.send(Call("GET", "/students"))
        items = reply.json["items"]
        assert len(items) == 50
        assert [item["id"] for item in items] == sorted(item["id"] for item in items)
        assert reply.json["next_cursor"]

    def test_cursor_walks_every_row_once(self, api, db):
        _seed(db, [(f"F{i}", f"L{i}", f"s{i}@example.org", "active") for i in range(23)])
        ids = _pages(api, "/students?limit=5")
        assert len(ids) == 23 == len(set(ids))

    def test_rows_inserted_while_paging_do_not_shift_pages(self, api, db):
        _seed(db, [(f"F{i}", f"L{i}", f"s{i}@example.org", "active") for i in range(10)])
        first = api.send(Call("GET", "/students?limit=5")).json
        _seed(db, [("New", "Row", "new@example.org", "active")])
        second = api.send(Call("GET", f"/students?limit=5&cursor={first['next_cursor']}")).json
        assert [i["id"] for i in second["items"]] == [6, 7, 8, 9, 10]

    def test_filter_by_status(self, api, db):
        _seed(db, [(f"F{i}", f"L{i}", f"s{i}@example.org", "graduated" if i % 3 == 0 else "active") for i in range(30)])
        ids = _pages(api, "/students?status=graduated&limit=3")
        assert len(ids) == 10
        statuses = {row[0] for row in db.execute("SELECT status FROM students WHERE id = ANY(%s)", (ids,))}
        assert statuses == {"graduated"}

    def test_search_by_name_or_email_prefix_case_insensitively(self, api, db):
        _seed(
            db,
            [
                ("Ada", "Lovelace", "ada@example.org", "active"),
                ("Adam", "Smith", "smith@example.org", "active"),
                ("Grace", "Adams", "grace@example.org", "inactive"),
                ("Alan", "Turing", "adaptive@example.org", "active"),
                ("Barbara", "Liskov", "barbara@example.org", "active"),
            ],
        )
        reply = api.send(Call("GET", "/students?q=ADA"))
        assert sorted(i["first_name"] for i in reply.json["items"]) == ["Ada", "Adam", "Alan", "Grace"]
        reply = api.send(Call("GET", "/students?q=ada&status=inactive"))
        assert [i["first_name"] for i in reply.json["items"]] == ["Grace"]

    def test_search_treats_like_wildcards_literally(self, api, db):
        _seed(db, [("Ada", "Lovelace", "ada@example.org", "active"), ("a_b", "C", "ab@example.org", "active")])
        assert api.send(Call("GET", "/students?q=%25")).json["items"] == []
        assert [i["first_name"] for i in api.send(Call("GET", "/students?q=a_")).json["items"]] == ["a_b"]

    def test_search_uses_an_index(self, db):
        # Given enough rows that a scan would be costlier than the index
        _seed(db, [(f"F{i}", f"L{i}", f"s{i}@example.org", "active") for i in range(5000)])
        db.execute("ANALYZE students")
        plan = "\n".join(
            row[0]
            for row in db.execute(
                "EXPLAIN SELECT id FROM students WHERE (lower(first_name) LIKE 'f12%' OR lower(last_name) LIKE 'f12%'"
                " OR lower(email) LIKE 'f12%') AND id > 0 ORDER BY id LIMIT 51"
            )
        )
        assert "students_first_name_prefix_idx" in plan, plan

    def test_bad_limits_are_422(self, api):
        for limit in ("0", "-1", "201", "abc", "99999999999999999999999"):
            reply = api.send(Call("GET", f"/students?limit={limit}"))
            assert reply.status == 422, limit
            assert reply.json["errors"][0] == {**reply.json["errors"][0], "field": "limit", "in": "query"}

    def test_max_limit_is_200(self, api):
        assert api.send(Call("GET", "/students?limit=200")).status == 200

    def test_unknown_status_and_unknown_parameters_are_422(self, api):
        assert api.send(Call("GET", "/students?status=expelled")).status == 422
        assert api.send(Call("GET", "/students?offset=10")).status == 422

    def test_forged_cursors_are_400(self, api, db):
        _seed(db, [(f"F{i}", f"L{i}", f"s{i}@example.org", "active") for i in range(3)])
        for cursor in ("garbage", "eyJ2IjoxfQ", "e30", "%27%20OR%201%3D1--", "eyJ2IjoxLCJhZnRlciI6LTEsImYiOiJ4In0"):
            reply = api.send(Call("GET", f"/students?cursor={cursor}"))
            assert reply.status == 400, cursor
            assert reply.json["type"] == "urn:student-records:problem:invalid-cursor"

    def test_cursor_is_bound_to_its_filters(self, api, db):
        _seed(db, [(f"F{i}", f"L{i}", f"s{i}@example.org", "active") for i in range(5)])
        cursor = api.send(Call("GET", "/students?limit=2")).json["next_cursor"]
        reply = api.send(Call("GET", f"/students?limit=2&status=active&cursor={cursor}"))
        assert reply.status == 400

    def test_repeated_parameter_uses_the_last_value(self, api, db):
        _seed(db, [(f"F{i}", f"L{i}", f"s{i}@example.org", "active") for i in range(5)])
        reply = api.send(Call("GET", "/students?limit=1&limit=3"))
        assert len(reply.json["items"]) == 3


class TestCount:
    def test_count_follows_inserts_and_deletes(self, api, create):
        assert api.send(Call("GET", "/students/count")).json == {"count": 0}
        ids = [create(email=f"c{i}@example.org")["id"] for i in range(3)]
        assert api.send(Call("GET", "/students/count")).json == {"count": 3}
        api.send(Call("DELETE", f"/students/{ids[0]}"))
        assert api.send(Call("GET", "/students/count")).json == {"count": 2}

    def test_count_query_reads_the_counter_not_the_table(self, db):
        plan = "\n".join(row[0] for row in db.execute("EXPLAIN " + COUNT.sql))
        assert "row_counts" in plan
        assert " on students" not in plan
