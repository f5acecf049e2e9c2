"""A few hundred demo students, made through the domain like any client's, once per database."""

import itertools
import random
from collections.abc import Callable
from datetime import date, timedelta

from student_records.access import Caller, Role
from student_records.models import StudentCreate, StudentStatus
from student_records.service import StudentService

# The demo data is audited like any other write, under this name.
SEED_CALLER = Caller(subject="local-demo-seed", role=Role.ADMIN, correlation_id="demo-seed")

FIRST_NAMES = (
    "Amara Bruno Chen Dalia Emeka Farah Gustavo Hana Idris Jonas Keiko Lucia Mateo Nadia Omar Priya Quentin "
    "Rosa Samir Tamsin Umar Vera Wen Ximena Yusuf Zofia"
).split()
LAST_NAMES = (
    "Abebe Bianchi Castillo Dubois Eriksen Fischer Garcia Haddad Ivanova Jensen Kowalski Lindqvist Moreau "
    "Nakamura Okafor Petrov Quispe Rossi Schmidt Tanaka"
).split()
_STATUS_WEIGHTS = ((StudentStatus.ACTIVE, 80), (StudentStatus.INACTIVE, 8), (StudentStatus.GRADUATED, 9),
                   (StudentStatus.WITHDRAWN, 3))


def demo_students(count: int, seed: int = 2026) -> list[StudentCreate]:
    """The same `count` students every time: names, emails and dates come from a seeded generator."""
    rng = random.Random(seed)
    statuses, weights = zip(*_STATUS_WEIGHTS)
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


def seed(service: StudentService, count: int, log: Callable[[str], None]) -> int:
    """Adds the demo students to an empty table; returns how many were added (0 when it holds any)."""
    existing = service.count(SEED_CALLER)
    if existing:
        log(f"database holds {existing} students; not seeding")
        return 0
    for student in demo_students(count):
        service.create(SEED_CALLER, student)
    log(f"seeded {count} demo students")
    return count
