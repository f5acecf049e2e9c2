"""The course catalogue: courses, terms, and offerings of a course in a term."""

from student_records.catalogue import models
from student_records.models import PageQuery

from ..routing import Resource

COURSES = Resource("courses", "/courses", "course_id", lambda services: services.courses)
TERMS = Resource("terms", "/terms", "term_id", lambda services: services.terms)
OFFERINGS = Resource("offerings", "/offerings", "offering_id", lambda services: services.offerings)

OPERATIONS = (
    COURSES.create("createCourse", "Add a course to the catalogue (code unique whatever its case)",
                   models.CourseCreate, models.Course),
    COURSES.list("listCourses", "A page of courses, by id, optionally searched by code or title",
                 models.ListCoursesQuery, models.CoursePage),
    COURSES.get("getCourse", "One course", models.Course),
    COURSES.update("updateCourse", "Change some fields; If-Match (or version) guards against lost updates",
                   models.CoursePatch, models.Course),
    COURSES.delete("deleteCourse", "Remove a course that was never offered", refusals=(409,)),
    TERMS.create("createTerm", "Add a term, e.g. 2026-FALL", models.TermCreate, models.Term),
    TERMS.list("listTerms", "A page of terms, by id", PageQuery, models.TermPage),
    TERMS.get("getTerm", "One term", models.Term),
    OFFERINGS.create("createOffering", "Offer a course in a term, with its teacher and capacity", models.OfferingCreate,
                     models.Offering),
    OFFERINGS.list("listOfferings", "A page of offerings, by id, optionally of one term", models.ListOfferingsQuery,
                   models.OfferingPage),
    OFFERINGS.get("getOffering", "One offering, with its seats taken", models.Offering),
    OFFERINGS.update(
        "updateOffering",
        "Change the teacher or the capacity (not below the seats taken); If-Match guards against lost updates",
        models.OfferingPatch, models.Offering),
)
