"""Demo data for `make run`: deterministic, valid, added once."""

from local_stack.seed import SEED_CALLER, demo_students, seed
from student_records.service import get_student_service


def test_demo_students_are_the_same_every_time_and_unique():
    first, second = demo_students(300), demo_students(300)
    assert first == second
    assert len({student.email for student in first}) == 300


def test_seed_adds_students_once(db):
    service = get_student_service()
    messages = []
    assert seed(service, 40, messages.append) == 40
    assert seed(service, 40, messages.append) == 0
    assert service.count(SEED_CALLER) == 40
    assert messages == ["seeded 40 demo students", "database holds 40 students; not seeding"]
