"""The course catalogue: courses, terms, and offerings of a course in a term."""

from student_records.catalogue import models
from student_records.models import PageQuery

from ..routing import Resource

COURSES = Resource("courses", "/courses", "course_id", lambda services: services.courses)
TERMS = Resource("terms", "/terms", "term_id", lambda services: services.terms)
OFFERINGS = Resource("offerings", "/offerings", "offering_id", lambda services: services.offerings)

TAGS = {
    "courses": "The course catalogue, open to every role and managed by registrars.",
    "terms": "Academic terms, such as 2026-FALL.",
    "offerings": "A course offered in a term, with its teacher and a capacity enforced under concurrency.",
}
OPERATIONS = (
    COURSES.create(
        "createCourse",
        "Add a course to the catalogue (code unique whatever its case)",
        "Admins and registrars. 409 when the code is taken, whatever its case; credits are whole or half"
        " numbers from 0 to 30.",
        models.CourseCreate,
        models.Course,
    ),
    COURSES.list(
        "listCourses",
        "A page of courses, by id, optionally searched by code or title",
        "Every role. Keyset pages by id; `q` matches a prefix of the code or the title, case-insensitively"
        " (`%` and `_` are literal).",
        models.ListCoursesQuery,
        models.CoursePage,
    ),
    COURSES.get(
        "getCourse", "One course", "Every role. The `ETag` is the course's version, for `If-Match`.", models.Course
    ),
    COURSES.update(
        "updateCourse",
        "Change some fields; If-Match (or version) guards against lost updates",
        "Admins and registrars. Only the fields sent change; `If-Match` (or `version`) makes the change"
        " conditional (412 when stale); 409 when the new code is taken.",
        models.CoursePatch,
        models.Course,
    ),
    COURSES.delete(
        "deleteCourse",
        "Remove a course that was never offered",
        "Admins and registrars. 409 while the course has offerings, which transcripts show.",
        refusals=(409,),
    ),
    TERMS.create(
        "createTerm",
        "Add a term, e.g. 2026-FALL",
        "Admins and registrars. The code is upper case and unique (409 when taken); `ends_on` comes after `starts_on`.",
        models.TermCreate,
        models.Term,
    ),
    TERMS.list("listTerms", "A page of terms, by id", "Every role. Keyset pages by id.", PageQuery, models.TermPage),
    TERMS.get("getTerm", "One term", "Every role. Its code and the dates it starts and ends on.", models.Term),
    OFFERINGS.create(
        "createOffering",
        "Offer a course in a term, with its teacher and capacity",
        "Admins and registrars. The teacher is named by their user id (`teacher_sub`). 422 naming an"
        " unknown `course_id` or `term_id`; 409 when the course is already offered that term.",
        models.OfferingCreate,
        models.Offering,
    ),
    OFFERINGS.list(
        "listOfferings",
        "A page of offerings, by id, optionally of one term",
        "Every role. Keyset pages by id, optionally of one term (`term_id`), each with its seats taken"
        " (`enrolled_count`).",
        models.ListOfferingsQuery,
        models.OfferingPage,
    ),
    OFFERINGS.get(
        "getOffering",
        "One offering, with its seats taken",
        "Every role. The `ETag` is the offering's version, which counts changes of teacher or capacity:"
        " enrollments do not change it.",
        models.Offering,
    ),
    OFFERINGS.update(
        "updateOffering",
        "Change the teacher or the capacity (not below the seats taken); If-Match guards against lost updates",
        "Admins and registrars. 409 when the capacity would fall below the seats taken; `If-Match` (or `version`)"
        " makes the change conditional (412 when stale).",
        models.OfferingPatch,
        models.Offering,
    ),
)
