"""SQL of the course catalogue: courses, terms, and offerings of a course in a term."""

from functools import partial
from typing import Any

from psycopg import sql

from ..data.database import Query
from ..data.integrity import Refusals, integrity_errors_translated
from ..data.prefix_search import like_prefix
from ..data.repository import Repository
from ..data.sql import column_list, update_query
from ..errors import AlreadyTaken, StateConflict, UnknownReference
from .models import Course, Offering, Term

# Courses

COURSE_COLUMNS = ("id", "code", "title", "credits", "department", "created_at", "updated_at", "version")
# Columns a partial update may set: the allow-list the PATCH statement's names come from.
COURSE_UPDATABLE = ("code", "title", "credits", "department")
COURSE_REFUSALS = {"courses_code_lower_key": partial(AlreadyTaken, "code", "another course already has this code")}
# Offerings keep their course: transcripts show the courses students took.
COURSE_DELETE_REFUSALS = {
    "course_offerings_course_fk": partial(StateConflict, "the course has offerings, so it stays in the catalogue")
}
INSERT_COURSE = Query(
    "courses.insert",
    sql.SQL(
        """INSERT INTO courses (code, title, credits, department)
        VALUES (%(code)s, %(title)s, %(credits)s, %(department)s) RETURNING {columns}"""
    ).format(columns=column_list(COURSE_COLUMNS)),
)
GET_COURSE = Query(
    "courses.get",
    sql.SQL("SELECT {columns} FROM courses WHERE id = %(id)s").format(columns=column_list(COURSE_COLUMNS)),
)
# NO KEY: the lock must not hold up offerings being created for the course meanwhile.
LOCK_COURSE = Query("courses.lock_version", "SELECT version FROM courses WHERE id = %(id)s FOR NO KEY UPDATE")
DELETE_COURSE = Query("courses.delete", "DELETE FROM courses WHERE id = %(id)s RETURNING id")
LIST_COURSES = Query(
    "courses.list",
    sql.SQL("SELECT {columns} FROM courses WHERE id > %(after)s ORDER BY id LIMIT %(limit)s").format(
        columns=column_list(COURSE_COLUMNS)
    ),
)
SEARCH_COURSES = Query(
    "courses.search",
    sql.SQL(
        """SELECT {columns} FROM courses
        WHERE (lower(code) LIKE %(prefix)s OR lower(title) LIKE %(prefix)s) AND id > %(after)s
        ORDER BY id LIMIT %(limit)s"""
    ).format(columns=column_list(COURSE_COLUMNS)),
)


class CourseRepository(Repository):
    def insert(self, values: dict[str, Any]) -> Course:
        return self._inserted(Course, INSERT_COURSE, values, COURSE_REFUSALS)

    def get(self, course_id: int) -> Course | None:
        return self._one(Course, GET_COURSE, {"id": course_id})

    def current_version_for_update(self, course_id: int) -> int | None:
        return self._version_for_update(LOCK_COURSE, course_id)

    def update(self, course_id: int, changes: dict[str, Any]) -> Course:
        fields = tuple(field for field in COURSE_UPDATABLE if field in changes)
        query = update_query("courses.update", "courses", COURSE_COLUMNS, fields)
        return self._updated(Course, query, course_id, changes, COURSE_REFUSALS)

    def delete(self, course_id: int) -> bool:
        with integrity_errors_translated(COURSE_DELETE_REFUSALS):
            return self._executor.fetch_one(DELETE_COURSE, {"id": course_id}) is not None

    def page(self, after_id: int, limit: int, *, q: str | None) -> list[Course]:
        params: dict[str, Any] = {"after": after_id, "limit": limit}
        if q is None:
            return self._all(Course, LIST_COURSES, params)
        return self._all(Course, SEARCH_COURSES, {**params, "prefix": like_prefix(q)})


# Terms

TERM_COLUMNS = ("id", "code", "starts_on", "ends_on", "created_at")
TERM_REFUSALS = {"terms_code_key": partial(AlreadyTaken, "code", "another term already has this code")}
INSERT_TERM = Query(
    "terms.insert",
    sql.SQL(
        """INSERT INTO terms (code, starts_on, ends_on) VALUES (%(code)s, %(starts_on)s, %(ends_on)s)
        RETURNING {columns}"""
    ).format(columns=column_list(TERM_COLUMNS)),
)
GET_TERM = Query(
    "terms.get", sql.SQL("SELECT {columns} FROM terms WHERE id = %(id)s").format(columns=column_list(TERM_COLUMNS))
)
LIST_TERMS = Query(
    "terms.list",
    sql.SQL("SELECT {columns} FROM terms WHERE id > %(after)s ORDER BY id LIMIT %(limit)s").format(
        columns=column_list(TERM_COLUMNS)
    ),
)


class TermRepository(Repository):
    def insert(self, values: dict[str, Any]) -> Term:
        return self._inserted(Term, INSERT_TERM, values, TERM_REFUSALS)

    def get(self, term_id: int) -> Term | None:
        return self._one(Term, GET_TERM, {"id": term_id})

    def page(self, after_id: int, limit: int) -> list[Term]:
        return self._all(Term, LIST_TERMS, {"after": after_id, "limit": limit})


# Offerings

OFFERING_COLUMNS = (
    "id",
    "course_id",
    "term_id",
    "teacher_sub",
    "capacity",
    "enrolled_count",
    "created_at",
    "updated_at",
    "version",
)
OFFERING_UPDATABLE = ("teacher_sub", "capacity")
OFFERING_REFUSALS: Refusals = {
    "course_offerings_course_term_key": partial(AlreadyTaken, "term_id", "the course is already offered in this term"),
    "course_offerings_course_fk": partial(UnknownReference, "course_id", "no such course"),
    "course_offerings_term_fk": partial(UnknownReference, "term_id", "no such term"),
    "course_offerings_seats_within_capacity": partial(
        StateConflict, "the capacity cannot be below the seats already taken"
    ),
}
INSERT_OFFERING = Query(
    "offerings.insert",
    sql.SQL(
        """INSERT INTO course_offerings (course_id, term_id, teacher_sub, capacity)
        VALUES (%(course_id)s, %(term_id)s, %(teacher_sub)s, %(capacity)s) RETURNING {columns}"""
    ).format(columns=column_list(OFFERING_COLUMNS)),
)
GET_OFFERING = Query(
    "offerings.get",
    sql.SQL("SELECT {columns} FROM course_offerings WHERE id = %(id)s").format(columns=column_list(OFFERING_COLUMNS)),
)
# NO KEY, like the seat updates: enrollments referencing the offering need only a key-share lock.
LOCK_OFFERING = Query(
    "offerings.lock_version", "SELECT version FROM course_offerings WHERE id = %(id)s FOR NO KEY UPDATE"
)
LIST_OFFERINGS = Query(
    "offerings.list",
    sql.SQL("SELECT {columns} FROM course_offerings WHERE id > %(after)s ORDER BY id LIMIT %(limit)s").format(
        columns=column_list(OFFERING_COLUMNS)
    ),
)
LIST_OFFERINGS_BY_TERM = Query(
    "offerings.list_by_term",
    sql.SQL(
        """SELECT {columns} FROM course_offerings
        WHERE term_id = %(term_id)s AND id > %(after)s ORDER BY id LIMIT %(limit)s"""
    ).format(columns=column_list(OFFERING_COLUMNS)),
)


class OfferingRepository(Repository):
    def insert(self, values: dict[str, Any]) -> Offering:
        return self._inserted(Offering, INSERT_OFFERING, values, OFFERING_REFUSALS)

    def get(self, offering_id: int) -> Offering | None:
        return self._one(Offering, GET_OFFERING, {"id": offering_id})

    def current_version_for_update(self, offering_id: int) -> int | None:
        return self._version_for_update(LOCK_OFFERING, offering_id)

    def update(self, offering_id: int, changes: dict[str, Any]) -> Offering:
        fields = tuple(field for field in OFFERING_UPDATABLE if field in changes)
        query = update_query("offerings.update", "course_offerings", OFFERING_COLUMNS, fields)
        return self._updated(Offering, query, offering_id, changes, OFFERING_REFUSALS)

    def page(self, after_id: int, limit: int, *, term_id: int | None) -> list[Offering]:
        params: dict[str, Any] = {"after": after_id, "limit": limit}
        if term_id is None:
            return self._all(Offering, LIST_OFFERINGS, params)
        return self._all(Offering, LIST_OFFERINGS_BY_TERM, {**params, "term_id": term_id})
