"""The contract scenarios of the end-to-end suite, each run once per front door over HTTP(S).

Each scenario names the operations (operationId) it exercises; the run fails a scenario that names one it
did not call, and tests/deployed fails when an operation of rest_contract/operations.py has no scenario.
Records are made by the run (e-mails and codes carry its id) and shared by the doors, which serve one
database; what the API can delete is deleted at the end (clean_up).
"""

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote

from rest_contract.problems import (
    CONFLICT,
    FORBIDDEN,
    INVALID_CURSOR,
    MALFORMED_REQUEST,
    NOT_FOUND,
    PRECONDITION_FAILED,
    UNAUTHORIZED,
    UNSUPPORTED_MEDIA_TYPE,
    VALIDATION_FAILED,
    ProblemType,
)

from .contract_check import openapi
from .door import Door, Identity, Reply, ScenarioFailed

DIRECTORY_FIELDS = frozenset(openapi()["components"]["schemas"]["StudentDirectoryEntry"]["properties"])


def expect(reply: Reply, status: int, problem: ProblemType | None = None) -> Reply:
    """The reply, when it has this status (and, for a problem, this problem type)."""
    if reply.status != status:
        raise ScenarioFailed(f"{reply.request} answered {reply.status}, expected {status}: {reply.body[:300]!r}")
    if problem is not None and reply.problem_type != problem.uri:
        raise ScenarioFailed(f"{reply.request}: problem type {reply.problem_type!r}, expected {problem.uri!r}")
    return reply


def check(condition: bool, failure: str) -> None:
    if not condition:
        raise ScenarioFailed(failure)


@dataclass
class Leftovers:
    """What the run made, by id: cleanup deletes students and the courses never offered; the rest stays."""

    students: set[int] = field(default_factory=set)
    courses: set[int] = field(default_factory=set)
    offered_courses: set[int] = field(default_factory=set)
    terms: set[int] = field(default_factory=set)
    offerings: set[int] = field(default_factory=set)


@dataclass(frozen=True)
class RunRecords:
    """Made once, through the first door, before the scenarios: the student the student user is, another
    student, and that student enrolled in an offering the teacher user teaches."""

    student: dict
    other_student: dict
    course: dict
    term: dict
    offering: dict
    enrollment: dict


class DoorRun:
    """One door's share of the run: its door, the run's users by role, and records named after both."""

    def __init__(
        self,
        door: Door,
        run_id: str,
        users: dict[str, Identity],
        leftovers: Leftovers,
        records: RunRecords | None = None,
        tag: str | None = None,
    ) -> None:
        self.door = door
        self.run_id = run_id
        self.users = users
        self.leftovers = leftovers
        self.records = records  # None only for the setup's and the cleanup's share
        self.tag = f"e2e-{run_id}-{tag or door.name}"  # a prefix of every e-mail and code made here
        self._serial = itertools.count(1)

    def send(self, method: str, path: str, role: str | None = None, **options) -> Reply:
        return self.door.send(method, path, identity=self.users[role] if role else None, **options)

    def unique(self) -> str:
        return f"{self.tag}-{next(self._serial)}"

    def student_body(self, **fields) -> dict:
        return {
            "first_name": "Ada",
            "last_name": f"Lovelace-{self.run_id}",
            "email": f"{self.unique()}@example.org",
            **fields,
        }

    def new_student(self, **fields) -> dict:
        student = expect(self.send("POST", "/students", "registrar", json_body=self.student_body(**fields)), 201).json
        self.leftovers.students.add(student["id"])
        return student

    def course_body(self, **fields) -> dict:
        return {"code": self.unique(), "title": "End-to-end checks", "credits": 3, "department": "Quality", **fields}

    def new_course(self) -> dict:
        course = expect(self.send("POST", "/courses", "registrar", json_body=self.course_body()), 201).json
        self.leftovers.courses.add(course["id"])
        return course

    def term_body(self, **fields) -> dict:
        return {"code": self.unique().upper(), "starts_on": "2031-09-01", "ends_on": "2031-12-19", **fields}

    def new_term(self) -> dict:
        term = expect(self.send("POST", "/terms", "registrar", json_body=self.term_body()), 201).json
        self.leftovers.terms.add(term["id"])
        return term

    def new_offering(self, capacity: int = 5) -> dict:
        course, term = self.new_course(), self.new_term()
        body = {
            "course_id": course["id"],
            "term_id": term["id"],
            "teacher_sub": self.users["teacher"].subject,
            "capacity": capacity,
        }
        offering = expect(self.send("POST", "/offerings", "registrar", json_body=body), 201).json
        self.leftovers.offerings.add(offering["id"])
        self.leftovers.offered_courses.add(course["id"])
        return offering

    def enroll(self, offering: dict, student: dict) -> Reply:
        return self.send(
            "POST", f"/offerings/{offering['id']}/enrollments", "registrar", json_body={"student_id": student["id"]}
        )


def make_run_records(run: DoorRun, student_user: Callable[[int], Identity]) -> RunRecords:
    """The shared records; the student user is made (student_user) once its student record exists."""
    student, other_student = run.new_student(), run.new_student()
    run.users["student"] = student_user(student["id"])
    offering = run.new_offering()
    enrollment = expect(run.enroll(offering, student), 201).json
    course = expect(run.send("GET", f"/courses/{offering['course_id']}", "admin"), 200).json
    term = expect(run.send("GET", f"/terms/{offering['term_id']}", "admin"), 200).json
    return RunRecords(student, other_student, course, term, offering, enrollment)


ScenarioFunction = Callable[[DoorRun], None]


@dataclass(frozen=True)
class Scenario:
    name: str
    operations: frozenset[str]  # operationIds it exercises
    run: ScenarioFunction


SCENARIOS: list[Scenario] = []


def scenario(name: str, *operations: str) -> Callable[[ScenarioFunction], ScenarioFunction]:
    def register(function: ScenarioFunction) -> ScenarioFunction:
        SCENARIOS.append(Scenario(name, frozenset(operations), function))
        return function

    return register


@scenario("health and readiness", "health", "readiness")
def _health(run: DoorRun) -> None:
    check(expect(run.send("GET", "/health"), 200).json == {"status": "ok"}, "GET /health is not {'status': 'ok'}")
    expect(run.send("GET", "/health/ready"), 200)


@scenario("students: create (Location, ETag), read, count", "createStudent", "getStudent", "countStudents")
def _create_read_count(run: DoorRun) -> None:
    reply = expect(
        run.send("POST", "/students", "registrar", json_body=run.student_body(date_of_birth="2001-02-03")), 201
    )
    created = reply.json
    run.leftovers.students.add(created["id"])
    check(reply.headers.get("location") == f"/students/{created['id']}", f"{reply.request}: Location is wrong")
    check(reply.headers.get("etag") == '"1"', f'{reply.request}: ETag is not "1"')
    read = expect(run.send("GET", reply.headers["location"], "admin"), 200)
    check(read.json == created, f"{read.request} differs from what the POST returned")
    count = expect(run.send("GET", "/students/count", "registrar"), 200).json["count"]
    check(count >= 1, f"count is {count} after a create")


@scenario("students: 401 without a token or with an invalid one", "countStudents", "getStudent")
def _unauthenticated(run: DoorRun) -> None:
    for reply in (
        run.send("GET", "/students/count"),
        run.send("GET", f"/students/{run.records.student['id']}", headers={"Authorization": "Bearer not.a.token"}),
    ):
        expect(reply, 401, UNAUTHORIZED)
        check(
            reply.headers.get("www-authenticate", "").startswith('Bearer realm="student-records"'),
            f"{reply.request}: no Bearer challenge in WWW-Authenticate",
        )


@scenario(
    "students: teachers read directory fields, students their own record, other roles get 403",
    "getStudent",
    "listStudents",
    "countStudents",
    "createStudent",
    "updateStudent",
    "deleteStudent",
)
def _student_roles(run: DoorRun) -> None:
    target = run.new_student(date_of_birth="2001-02-03")
    path = f"/students/{target['id']}"
    teacher_view = expect(run.send("GET", path, "teacher"), 200).json
    check(set(teacher_view) == DIRECTORY_FIELDS, f"a teacher sees {sorted(teacher_view)}")
    page = expect(run.send("GET", f"/students?q=Lovelace-{run.run_id}&limit=5", "teacher"), 200).json
    check(
        page["items"] and all(set(item) == DIRECTORY_FIELDS for item in page["items"]),
        "a teacher's page is empty or has more than directory fields",
    )
    for method, forbidden_path, body in (
        ("POST", "/students", run.student_body()),
        ("PATCH", path, {"status": "inactive"}),
        ("DELETE", path, None),
    ):
        expect(run.send(method, forbidden_path, "teacher", json_body=body), 403, FORBIDDEN)
    own = run.records.student
    own_view = expect(run.send("GET", f"/students/{own['id']}", "student"), 200).json
    check(own_view["email"] == own["email"], "a student does not get their whole record")
    expect(run.send("GET", path, "student"), 404, NOT_FOUND)  # anyone else's record does not exist for them
    expect(run.send("GET", "/students/count", "student"), 403, FORBIDDEN)
    expect(run.send("GET", "/students", "student"), 403, FORBIDDEN)
    expect(run.send("PATCH", f"/students/{own['id']}", "student", json_body={"status": "inactive"}), 403, FORBIDDEN)


@scenario("students: search and pages; 400 forged cursor, 422 bad limit", "listStudents")
def _list_students(run: DoorRun) -> None:
    made = {run.new_student()["id"], run.new_student()["id"]}
    first = expect(run.send("GET", f"/students?q={run.tag}&limit=1", "registrar"), 200).json
    check(len(first["items"]) == 1 and first["next_cursor"], "a page of 1 has no next_cursor")
    second = expect(
        run.send("GET", f"/students?q={run.tag}&limit=1&cursor={quote(first['next_cursor'])}", "registrar"), 200
    ).json
    check(second["items"][0]["id"] > first["items"][0]["id"], "the next page does not continue after the first")
    found = {
        item["id"]
        for item in expect(run.send("GET", f"/students?q={run.tag}&limit=200", "registrar"), 200).json["items"]
    }
    check(made <= found, f"searching {run.tag!r} misses students {sorted(made - found)}")
    by_email = expect(run.send("GET", f"/students?q={run.tag}", "teacher"), 200).json
    check(by_email["items"] == [], "a teacher found students by e-mail")
    expect(run.send("GET", "/students?cursor=Zm9yZ2Vk", "registrar"), 400, INVALID_CURSOR)
    expect(run.send("GET", "/students?limit=0", "registrar"), 422, VALIDATION_FAILED)


@scenario("students: 409 duplicate e-mail in any case", "createStudent", "updateStudent")
def _duplicate_email(run: DoorRun) -> None:
    first, second = run.new_student(), run.new_student()
    reply = expect(
        run.send("POST", "/students", "registrar", json_body=run.student_body(email=first["email"].upper())),
        409,
        CONFLICT,
    )
    check([error["field"] for error in reply.json["errors"]] == ["email"], f"{reply.request} does not name email")
    expect(
        run.send("PATCH", f"/students/{second['id']}", "registrar", json_body={"email": first["email"]}), 409, CONFLICT
    )


@scenario("students: 412 stale If-Match or version", "updateStudent")
def _stale_update(run: DoorRun) -> None:
    path = f"/students/{run.new_student()['id']}"
    first_version = {"If-Match": '"1"'}
    updated = expect(run.send("PATCH", path, "registrar", json_body={"last_name": "Byron"}, headers=first_version), 200)
    check(updated.headers.get("etag") == '"2"', f'{updated.request}: ETag is not "2"')
    stale = expect(
        run.send("PATCH", path, "registrar", json_body={"last_name": "King"}, headers=first_version),
        412,
        PRECONDITION_FAILED,
    )
    check(stale.json.get("current_version") == 2, f"{stale.request}: current_version is not 2")
    expect(
        run.send("PATCH", path, "registrar", json_body={"last_name": "King", "version": 1}), 412, PRECONDITION_FAILED
    )


@scenario("students: 422 invalid body and malformed id", "createStudent", "getStudent")
def _invalid_student(run: DoorRun) -> None:
    reply = expect(
        run.send("POST", "/students", "registrar", json_body={"first_name": 1, "email": "x", "extra": True}),
        422,
        VALIDATION_FAILED,
    )
    named = {error["field"] for error in reply.json["errors"]}
    check({"first_name", "last_name", "email", "extra"} <= named, f"{reply.request} names only {sorted(named)}")
    expect(run.send("GET", "/students/x1", "admin"), 422, VALIDATION_FAILED)


@scenario("students: 400 malformed JSON, 415 another media type", "createStudent")
def _unreadable_bodies(run: DoorRun) -> None:
    expect(
        run.send(
            "POST", "/students", "registrar", body=b'{"first_name": ', headers={"Content-Type": "application/json"}
        ),
        400,
        MALFORMED_REQUEST,
    )
    expect(
        run.send(
            "POST",
            "/students",
            "registrar",
            body=b"first_name=Ada",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ),
        415,
        UNSUPPORTED_MEDIA_TYPE,
    )


@scenario("students: delete, then 404", "deleteStudent", "getStudent", "updateStudent")
def _delete_student(run: DoorRun) -> None:
    student = run.new_student()
    path = f"/students/{student['id']}"
    check(expect(run.send("DELETE", path, "registrar"), 204).body == b"", "DELETE answered with a body")
    run.leftovers.students.discard(student["id"])
    expect(run.send("GET", path, "admin"), 404, NOT_FOUND)
    expect(run.send("DELETE", path, "registrar"), 404, NOT_FOUND)
    expect(run.send("PATCH", path, "registrar", json_body={"status": "inactive"}), 404, NOT_FOUND)


@scenario("students: an Idempotency-Key replays the first answer", "createStudent")
def _idempotent_create(run: DoorRun) -> None:
    key, body = {"Idempotency-Key": f"{run.unique()}-key"}, run.student_body()
    first = expect(run.send("POST", "/students", "registrar", json_body=body, headers=key), 201)
    run.leftovers.students.add(first.json["id"])
    replay = expect(run.send("POST", "/students", "registrar", json_body=body, headers=key), 201)
    check(replay.json == first.json, f"{replay.request} is not the first answer")
    expect(
        run.send("POST", "/students", "registrar", json_body=run.student_body(), headers=key), 422, VALIDATION_FAILED
    )


@scenario("students: the audit trail (admins only) names the replies' X-Request-Id", "getStudentAudit")
def _audit(run: DoorRun) -> None:
    created = expect(run.send("POST", "/students", "registrar", json_body=run.student_body()), 201)
    run.leftovers.students.add(created.json["id"])
    path = f"/students/{created.json['id']}"
    read = expect(run.send("GET", path, "registrar"), 200)
    entries = expect(run.send("GET", f"{path}/audit", "admin"), 200).json["items"]
    trail = [(entry["action"], entry["correlation_id"]) for entry in entries]
    check(
        trail[:2] == [("create", created.correlation_id), ("read", read.correlation_id)],
        f"the audit trail starts with {trail[:2]}",
    )
    expect(run.send("GET", f"{path}/audit", "registrar"), 403, FORBIDDEN)
    expect(run.send("GET", f"{path}/audit?limit=0", "admin"), 422, VALIDATION_FAILED)


@scenario(
    "courses: create, read, search, change (412 when stale), delete one never offered",
    "createCourse",
    "getCourse",
    "listCourses",
    "updateCourse",
    "deleteCourse",
)
def _courses(run: DoorRun) -> None:
    reply = expect(run.send("POST", "/courses", "registrar", json_body=run.course_body()), 201)
    course = reply.json
    run.leftovers.courses.add(course["id"])
    path = f"/courses/{course['id']}"
    check(reply.headers.get("location") == path, f"{reply.request}: Location is wrong")
    check(expect(run.send("GET", path, "student"), 200).json == course, "GET differs from what the POST returned")
    page = expect(run.send("GET", f"/courses?q={course['code']}&limit=5", "teacher"), 200).json
    check([item["id"] for item in page["items"]] == [course["id"]], f"searching {course['code']} finds {page}")
    changed = expect(
        run.send("PATCH", path, "registrar", json_body={"title": "Renamed"}, headers={"If-Match": '"1"'}), 200
    ).json
    check(changed["title"] == "Renamed" and changed["version"] == 2, f"PATCH gave {changed}")
    expect(
        run.send("PATCH", path, "registrar", json_body={"title": "Again"}, headers={"If-Match": '"1"'}),
        412,
        PRECONDITION_FAILED,
    )
    expect(run.send("DELETE", path, "registrar"), 204)
    run.leftovers.courses.discard(course["id"])
    expect(run.send("GET", path, "registrar"), 404, NOT_FOUND)


@scenario(
    "courses: 409 duplicate code in any case, 422 invalid, 403 for teachers and students",
    "createCourse",
    "updateCourse",
    "deleteCourse",
)
def _course_errors(run: DoorRun) -> None:
    course = run.new_course()
    path = f"/courses/{course['id']}"
    expect(
        run.send("POST", "/courses", "registrar", json_body=run.course_body(code=course["code"].upper())), 409, CONFLICT
    )
    expect(
        run.send("POST", "/courses", "registrar", json_body=run.course_body(credits=-1, prerequisites=[])),
        422,
        VALIDATION_FAILED,
    )
    expect(run.send("POST", "/courses", "teacher", json_body=run.course_body()), 403, FORBIDDEN)
    expect(run.send("PATCH", path, "student", json_body={"title": "Mine"}), 403, FORBIDDEN)
    expect(run.send("DELETE", path, "teacher"), 403, FORBIDDEN)


@scenario(
    "terms: create, read, pages; 409 duplicate code, 422 ends before it starts, 403 for students",
    "createTerm",
    "getTerm",
    "listTerms",
)
def _terms(run: DoorRun) -> None:
    term = run.new_term()
    check(
        expect(run.send("GET", f"/terms/{term['id']}", "student"), 200).json == term,
        "GET differs from what the POST returned",
    )
    first = expect(run.send("GET", "/terms?limit=1", "teacher"), 200).json
    check(len(first["items"]) == 1 and first["next_cursor"], "a page of 1 of several terms has no next_cursor")
    expect(run.send("GET", f"/terms?limit=1&cursor={quote(first['next_cursor'])}", "teacher"), 200)
    expect(run.send("POST", "/terms", "registrar", json_body=run.term_body(code=term["code"])), 409, CONFLICT)
    expect(
        run.send("POST", "/terms", "registrar", json_body=run.term_body(ends_on="2031-08-01")), 422, VALIDATION_FAILED
    )
    expect(run.send("POST", "/terms", "student", json_body=run.term_body()), 403, FORBIDDEN)


@scenario(
    "offerings: create, read, list by term, change capacity; 409, 422 unknown course, 403 for teachers",
    "createOffering",
    "getOffering",
    "listOfferings",
    "updateOffering",
    "deleteCourse",
)
def _offerings(run: DoorRun) -> None:
    offering = run.new_offering(capacity=2)
    path = f"/offerings/{offering['id']}"
    check(offering["enrolled_count"] == 0, "a new offering has seats taken")
    check(expect(run.send("GET", path, "student"), 200).json == offering, "GET differs from what the POST returned")
    listed = expect(run.send("GET", f"/offerings?term_id={offering['term_id']}", "teacher"), 200).json["items"]
    check([item["id"] for item in listed] == [offering["id"]], f"the term's offerings are {listed}")
    changed = expect(
        run.send("PATCH", path, "registrar", json_body={"capacity": 3}, headers={"If-Match": '"1"'}), 200
    ).json
    check(changed["capacity"] == 3, f"PATCH gave {changed}")
    expect(run.send("PATCH", path, "teacher", json_body={"capacity": 30}), 403, FORBIDDEN)
    same_course_and_term = {key: offering[key] for key in ("course_id", "term_id", "teacher_sub", "capacity")}
    expect(run.send("POST", "/offerings", "registrar", json_body=same_course_and_term), 409, CONFLICT)
    expect(run.send("DELETE", f"/courses/{offering['course_id']}", "registrar"), 409, CONFLICT)  # it was offered
    gone = run.new_course()
    expect(run.send("DELETE", f"/courses/{gone['id']}", "registrar"), 204)
    run.leftovers.courses.discard(gone["id"])
    of_a_gone_course = {**same_course_and_term, "course_id": gone["id"]}
    reply = expect(run.send("POST", "/offerings", "registrar", json_body=of_a_gone_course), 422, VALIDATION_FAILED)
    check(
        [error["field"] for error in reply.json["errors"]] == ["course_id"], f"{reply.request} does not name course_id"
    )


@scenario(
    "enrollments: enroll (409 twice), roster and grade by the offering's teacher, the student's transcript",
    "enroll",
    "listEnrollments",
    "getEnrollment",
    "recordGrade",
    "getGradeScale",
    "getTranscript",
)
def _enroll_and_grade(run: DoorRun) -> None:
    own, other = run.records.student, run.records.other_student
    offering = run.new_offering()
    enrollment = expect(run.enroll(offering, own), 201).json
    expect(run.enroll(offering, own), 409, CONFLICT)
    roster = expect(run.send("GET", f"/offerings/{offering['id']}/enrollments", "teacher"), 200).json["items"]
    check([entry["student_id"] for entry in roster] == [own["id"]], f"the roster is {roster}")
    expect(run.send("GET", f"/offerings/{offering['id']}/enrollments", "student"), 403, FORBIDDEN)
    path = f"/enrollments/{enrollment['id']}"
    check(
        expect(run.send("GET", path, "student"), 200).json["id"] == enrollment["id"],
        "a student misses their enrollment",
    )
    grades = [entry["grade"] for entry in expect(run.send("GET", "/grade-scale", "student"), 200).json["items"]]
    check("A" in grades, f"the grade scale is {grades}")
    expect(run.send("PUT", f"{path}/grade", "teacher", json_body={"grade": "Z"}), 422, VALIDATION_FAILED)
    graded = expect(run.send("PUT", f"{path}/grade", "teacher", json_body={"grade": "A"}), 200).json
    check(graded["status"] == "completed" and graded["grade"] == "A", f"grading gave {graded}")
    transcript = expect(run.send("GET", f"/students/{own['id']}/transcript", "student"), 200).json
    courses = [(course["course_id"], course["grade"]) for term in transcript["terms"] for course in term["courses"]]
    check((offering["course_id"], "A") in courses, f"the transcript has {courses}")
    expect(run.send("GET", f"/students/{other['id']}/transcript", "student"), 404, NOT_FOUND)


@scenario(
    "enrollments: 409 when full; dropping frees the seat (412 for another version, 403 for teachers)",
    "enroll",
    "dropEnrollment",
)
def _drop(run: DoorRun) -> None:
    offering = run.new_offering(capacity=1)
    taken = expect(run.enroll(offering, run.records.other_student), 201).json
    expect(run.enroll(offering, run.records.student), 409, CONFLICT)
    path = f"/enrollments/{taken['id']}"
    expect(run.send("PATCH", path, "teacher", json_body={"status": "dropped"}), 403, FORBIDDEN)
    expect(
        run.send("PATCH", path, "registrar", json_body={"status": "dropped"}, headers={"If-Match": '"2"'}),
        412,
        PRECONDITION_FAILED,
    )
    dropped = expect(
        run.send("PATCH", path, "registrar", json_body={"status": "dropped"}, headers={"If-Match": '"1"'}), 200
    ).json
    check(dropped["status"] == "dropped", f"dropping gave {dropped}")
    expect(run.enroll(offering, run.records.student), 201)


@dataclass(frozen=True)
class SameOnBothDoors:
    """A read or an error request that must get the same status, problem type and body from both doors."""

    name: str
    method: str
    path: str
    role: str | None
    options: dict = field(default_factory=dict)


def same_on_both_doors(records: RunRecords) -> list[SameOnBothDoors]:
    student, other = records.student["id"], records.other_student["id"]
    json_header = {"Content-Type": "application/json"}
    return [
        SameOnBothDoors("a student, as an admin", "GET", f"/students/{student}", "admin"),
        SameOnBothDoors("a student, as a teacher", "GET", f"/students/{student}", "teacher"),
        SameOnBothDoors("their own record, as a student", "GET", f"/students/{student}", "student"),
        SameOnBothDoors("404 another's record, as a student", "GET", f"/students/{other}", "student"),
        SameOnBothDoors("422 a malformed id", "GET", "/students/x1", "admin"),
        SameOnBothDoors("401 without a token", "GET", "/students/count", None),
        SameOnBothDoors(
            "403 a teacher creating a student",
            "POST",
            "/students",
            "teacher",
            {"json_body": {"first_name": "A", "last_name": "B", "email": "forbidden@example.org"}},
        ),
        SameOnBothDoors(
            "422 an invalid student",
            "POST",
            "/students",
            "admin",
            {"json_body": {"first_name": 1, "email": "x", "extra": True}},
        ),
        SameOnBothDoors("400 malformed JSON", "POST", "/students", "admin", {"body": b"{", "headers": json_header}),
        SameOnBothDoors(
            "409 a taken e-mail",
            "POST",
            "/students",
            "admin",
            {"json_body": {"first_name": "A", "last_name": "B", "email": records.student["email"]}},
        ),
        SameOnBothDoors(
            "412 a stale If-Match",
            "PATCH",
            f"/students/{student}",
            "admin",
            {"json_body": {"status": "active"}, "headers": {"If-Match": '"999"'}},
        ),
        SameOnBothDoors("a course", "GET", f"/courses/{records.course['id']}", "student"),
        SameOnBothDoors("a term", "GET", f"/terms/{records.term['id']}", "student"),
        SameOnBothDoors("an offering", "GET", f"/offerings/{records.offering['id']}", "teacher"),
        SameOnBothDoors(
            "the roster, as the teacher", "GET", f"/offerings/{records.offering['id']}/enrollments", "teacher"
        ),
        SameOnBothDoors("an enrollment, as its student", "GET", f"/enrollments/{records.enrollment['id']}", "student"),
        SameOnBothDoors("the grade scale", "GET", "/grade-scale", "student"),
        SameOnBothDoors("a transcript, as its student", "GET", f"/students/{student}/transcript", "student"),
    ]


def compare_doors(request: SameOnBothDoors, runs: list[DoorRun]) -> None:
    first, second = (run.send(request.method, request.path, request.role, **request.options) for run in runs)
    for aspect, mine, theirs in (
        ("status", first.status, second.status),
        ("media type", first.media_type, second.media_type),
        ("problem type", first.problem_type, second.problem_type),
        ("ETag", first.headers.get("etag"), second.headers.get("etag")),
        ("body", _comparable(first), _comparable(second)),
    ):
        check(mine == theirs, f"{aspect} differs: {first.request} gave {mine!r}, {second.request} gave {theirs!r}")


def _comparable(reply) -> object:
    """The body, as both doors must give it. A 401's detail is left out: in AWS, API Gateway's Cognito authorizer
    answers before the Lambda door, with one detail for a missing and an invalid token alike."""
    body = reply.json if reply.body else None
    if reply.status == 401 and isinstance(body, dict):
        return {key: value for key, value in body.items() if key != "detail"}
    return body


def clean_up(run: DoorRun) -> str:
    """Deletes the run's students (their enrollments go with them) and the courses never offered; returns
    what stays, which the API cannot delete."""
    leftovers = run.leftovers
    deletions = [f"/students/{id_}" for id_ in sorted(leftovers.students)]
    deletions += [f"/courses/{id_}" for id_ in sorted(leftovers.courses - leftovers.offered_courses)]
    for path in deletions:
        reply = run.send("DELETE", path, "admin")
        check(reply.status in (204, 404), f"{reply.request} answered {reply.status}: {reply.body[:300]!r}")
    return (
        f"deleted {len(leftovers.students)} students and {len(deletions) - len(leftovers.students)} courses; left"
        f" {len(leftovers.terms)} terms, {len(leftovers.offerings)} offerings and {len(leftovers.offered_courses)}"
        " offered courses, which the API does not delete"
    )
