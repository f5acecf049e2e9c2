"""Use cases of the course catalogue: anyone reads courses, terms and offerings; registrars (and admins) manage
them. None of it is a student's record: nothing here is audited."""

from functools import partial

from ..access import Caller, require_academic_manager
from ..concurrency import version_checked
from ..errors import RecordNotFound
from ..models import PageQuery
from ..service import Service, found
from .models import (
    Course,
    CourseCreate,
    CoursePage,
    CoursePatch,
    ListCoursesQuery,
    ListOfferingsQuery,
    Offering,
    OfferingCreate,
    OfferingPage,
    OfferingPatch,
    Term,
    TermCreate,
    TermPage,
)
from .repository import CourseRepository, OfferingRepository, TermRepository


class CourseService(Service):
    def create(self, caller: Caller, data: CourseCreate) -> Course:
        require_academic_manager(caller)
        return CourseRepository(self._database).insert(data.model_dump())

    def get(self, caller: Caller, course_id: int) -> Course:
        return found(CourseRepository(self._database).get(course_id), "course", course_id)

    def update(self, caller: Caller, course_id: int, patch: CoursePatch, if_match: int | None) -> Course:
        require_academic_manager(caller)
        with version_checked(
            self._database,
            CourseRepository,
            course_id,
            if_match,
            patch.version,
            missing=partial(RecordNotFound, "course", course_id),
        ) as courses:
            return courses.update(course_id, patch.changes())

    def delete(self, caller: Caller, course_id: int) -> None:
        require_academic_manager(caller)
        if not CourseRepository(self._database).delete(course_id):
            raise RecordNotFound("course", course_id)

    def list(self, caller: Caller, query: ListCoursesQuery) -> CoursePage:
        courses = CourseRepository(self._database)
        return self._pager.page(CoursePage, query, ("courses", query.q), partial(courses.page, q=query.q))


class TermService(Service):
    def create(self, caller: Caller, data: TermCreate) -> Term:
        require_academic_manager(caller)
        return TermRepository(self._database).insert(data.model_dump())

    def get(self, caller: Caller, term_id: int) -> Term:
        return found(TermRepository(self._database).get(term_id), "term", term_id)

    def list(self, caller: Caller, query: PageQuery) -> TermPage:
        return self._pager.page(TermPage, query, ("terms",), TermRepository(self._database).page)


class OfferingService(Service):
    def create(self, caller: Caller, data: OfferingCreate) -> Offering:
        require_academic_manager(caller)
        return OfferingRepository(self._database).insert(data.model_dump())

    def get(self, caller: Caller, offering_id: int) -> Offering:
        return found(OfferingRepository(self._database).get(offering_id), "offering", offering_id)

    def update(self, caller: Caller, offering_id: int, patch: OfferingPatch, if_match: int | None) -> Offering:
        require_academic_manager(caller)
        with version_checked(
            self._database,
            OfferingRepository,
            offering_id,
            if_match,
            patch.version,
            missing=partial(RecordNotFound, "offering", offering_id),
        ) as offerings:
            return offerings.update(offering_id, patch.changes())

    def list(self, caller: Caller, query: ListOfferingsQuery) -> OfferingPage:
        filters = ("offerings", None if query.term_id is None else str(query.term_id))
        offerings = OfferingRepository(self._database)
        return self._pager.page(OfferingPage, query, filters, partial(offerings.page, term_id=query.term_id))
