"""Demo data, made through the domain like any client's, once per database: a few hundred students, and a
course catalogue with a past term (graded) and the current one (enrolled, a few drops), so that transcripts,
rosters and the academic dashboard widgets have something to show."""

import itertools
import random
from collections.abc import Callable
from datetime import date, timedelta

from rest_contract.routing import Services
from student_records.access import Caller, Role
from student_records.catalogue.models import CourseCreate, OfferingCreate, TermCreate
from student_records.enrollments.models import EnrollmentCreate, EnrollmentPatch, GradeRecord
from student_records.students.models import Student, StudentCreate, StudentStatus

# The demo data is audited like any other write, under this name.
SEED_CALLER = Caller(subject="local-demo-seed", role=Role.ADMIN, correlation_id="demo-seed")

FIRST_NAMES = [
    "Amara",
    "Bruno",
    "Chen",
    "Dalia",
    "Emeka",
    "Farah",
    "Gustavo",
    "Hana",
    "Idris",
    "Jonas",
    "Keiko",
    "Lucia",
    "Mateo",
    "Nadia",
    "Omar",
    "Priya",
    "Quentin",
    "Rosa",
    "Samir",
    "Tamsin",
    "Umar",
    "Vera",
    "Wen",
    "Ximena",
    "Yusuf",
    "Zofia",
]
LAST_NAMES = [
    "Abebe",
    "Bianchi",
    "Castillo",
    "Dubois",
    "Eriksen",
    "Fischer",
    "Garcia",
    "Haddad",
    "Ivanova",
    "Jensen",
    "Kowalski",
    "Lindqvist",
    "Moreau",
    "Nakamura",
    "Okafor",
    "Petrov",
    "Quispe",
    "Rossi",
    "Schmidt",
    "Tanaka",
]
_STATUS_WEIGHTS = (
    (StudentStatus.ACTIVE, 80),
    (StudentStatus.INACTIVE, 8),
    (StudentStatus.GRADUATED, 9),
    (StudentStatus.WITHDRAWN, 3),
)


def demo_students(count: int, seed: int = 2026) -> list[StudentCreate]:
    """The same `count` students every time: names, emails and dates come from a seeded generator."""
    rng = random.Random(seed)
    statuses, weights = zip(*_STATUS_WEIGHTS, strict=False)
    pairs = itertools.islice(itertools.cycle(itertools.product(FIRST_NAMES, LAST_NAMES)), count)
    students = []
    for number, (first, last) in enumerate(pairs, start=1):
        born = date(1995, 1, 1) + timedelta(days=rng.randrange(365 * 12))
        students.append(
            StudentCreate(
                first_name=first,
                last_name=last,
                email=f"{first}.{last}.{number}@demo.example.edu".lower(),
                date_of_birth=born,
                status=rng.choices(statuses, weights)[0],
                enrolled_on=date(2020 + rng.randrange(7), 9, 1),
            )
        )
    return students


# The teacher of the computer science offerings: `make token ROLE=teacher SUBJECT=demo-teacher-grace`.
DEMO_TEACHER = "demo-teacher-grace"
DEMO_COURSES = (
    ("CS-101", "Introduction to Programming", 4, "Computer Science", DEMO_TEACHER),
    ("CS-201", "Data Structures", 4, "Computer Science", DEMO_TEACHER),
    ("MATH-110", "Calculus I", 4, "Mathematics", "demo-teacher-emmy"),
    ("MATH-220", "Linear Algebra", 3, "Mathematics", "demo-teacher-emmy"),
    ("HIST-105", "World History", 3, "History", "demo-teacher-marc"),
    ("BIO-120", "Cell Biology", 4, "Biology", "demo-teacher-rosalind"),
)
# (code, starts, ends, graded): the past term's enrollments are all graded, the current one's are not.
DEMO_TERMS = (
    ("2026-SPRING", date(2026, 1, 12), date(2026, 5, 8), True),
    ("2026-FALL", date(2026, 9, 1), date(2026, 12, 18), False),
)
DEMO_GRADES = ("A", "A-", "B+", "B", "B-", "C+", "C", "D", "F")
COURSES_PER_STUDENT = 3
ENROLLED_STUDENTS = 60  # per term, at most
CAPACITY = ENROLLED_STUDENTS  # no offering fills up, whatever the draw


def seed(services: Services, count: int, log: Callable[[str], None]) -> int:
    """Adds the demo students and academic records to an empty database; returns how many students were
    added (0 when it holds any)."""
    existing = services.students.count(SEED_CALLER)
    if existing:
        log(f"database holds {existing} students; not seeding")
        return 0
    students = [services.students.create(SEED_CALLER, student) for student in demo_students(count)]
    log(f"seeded {count} demo students")
    enrollments = seed_academic_records(services, students)
    log(f"seeded {len(DEMO_COURSES)} courses, {len(DEMO_TERMS)} terms and {enrollments} enrollments")
    return count


def seed_academic_records(services: Services, students: list[Student], seed: int = 2026) -> int:
    """Every course offered in every term; the first active students enrolled in a few courses each.
    Returns the number of enrollments made."""
    rng = random.Random(seed)
    active = [student for student in students if student.status is StudentStatus.ACTIVE][:ENROLLED_STUDENTS]
    courses = [
        (
            services.courses.create(
                SEED_CALLER, CourseCreate(code=code, title=title, credits=credits, department=department)
            ),
            teacher,
        )
        for code, title, credits, department, teacher in DEMO_COURSES
    ]
    made = 0
    for code, starts_on, ends_on, graded in DEMO_TERMS:
        term = services.terms.create(SEED_CALLER, TermCreate(code=code, starts_on=starts_on, ends_on=ends_on))
        offerings = [
            services.offerings.create(
                SEED_CALLER,
                OfferingCreate(course_id=course.id, term_id=term.id, teacher_sub=teacher, capacity=CAPACITY),
            )
            for course, teacher in courses
        ]
        for student in active:
            for offering in rng.sample(offerings, COURSES_PER_STUDENT):
                enrollment = services.enrollments.enroll(
                    SEED_CALLER, offering.id, EnrollmentCreate(student_id=student.id)
                )
                made += 1
                if graded:
                    services.enrollments.record_grade(
                        SEED_CALLER, enrollment.id, GradeRecord(grade=rng.choice(DEMO_GRADES))
                    )
                elif rng.random() < 0.05:
                    services.enrollments.drop(SEED_CALLER, enrollment.id, EnrollmentPatch(status="dropped"), None)
    return made
