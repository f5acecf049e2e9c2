"""Demo data for `make run`: deterministic, valid, added once, with academic records to look at."""

from local_stack.seed import DEMO_COURSES, DEMO_TEACHER, DEMO_TERMS, SEED_CALLER, demo_students, seed
from student_records.access import Caller, Role
from student_records.models import PageQuery


def test_demo_students_are_the_same_every_time_and_unique():
    first, second = demo_students(300), demo_students(300)
    assert first == second
    assert len({student.email for student in first}) == 300


def test_seed_adds_students_and_academic_records_once(db, application):
    services = application.services
    messages = []
    assert seed(services, 40, messages.append) == 40
    assert seed(services, 40, messages.append) == 0
    assert services.students.count(SEED_CALLER) == 40
    assert messages[0] == "seeded 40 demo students"
    assert messages[1].startswith(f"seeded {len(DEMO_COURSES)} courses, {len(DEMO_TERMS)} terms and ")
    assert messages[2] == "database holds 40 students; not seeding"
    # The past term is graded: its students have a GPA; the demo teacher sees the rosters of their offerings
    enrolled = db.execute("SELECT min(student_id) FROM enrollments").fetchone()[0]
    transcript = services.transcripts.transcript(SEED_CALLER, enrolled)
    assert transcript.gpa is not None and [term.code for term in transcript.terms] == ["2026-SPRING", "2026-FALL"]
    teacher = Caller(subject=DEMO_TEACHER, role=Role.TEACHER, correlation_id="seed-test")
    offering_id = db.execute("SELECT min(id) FROM course_offerings WHERE teacher_sub = %s", (DEMO_TEACHER,)).fetchone()[
        0
    ]
    assert services.enrollments.roster(teacher, offering_id, PageQuery(limit=200)).items
