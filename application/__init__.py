"""The composition root: the settings read once, the observability they put in force, one Database, the services over
it and the authenticator, built once per process and handed to a door (flask_backend.create_app,
handlers.api.create_handler). Nothing below it reads the environment or keeps a process-wide service; observability
keeps one documented process-wide holder, the Observability installed here (observability/runtime.py)."""

from dataclasses import dataclass

from observability import install
from rest_contract.api import Api
from rest_contract.auth import build_authenticator
from rest_contract.routing import Services
from student_records.audit.service import AuditService
from student_records.catalogue.service import CourseService, OfferingService, TermService
from student_records.data.database import Database
from student_records.enrollments.service import EnrollmentService
from student_records.paging import Pager
from student_records.readiness import ReadinessService
from student_records.students.service import StudentService
from student_records.transcripts.service import TranscriptService

from .settings import Settings


@dataclass(frozen=True)
class Application:
    settings: Settings
    database: Database
    api: Api

    @property
    def services(self) -> Services:
        return self.api.services

    def close(self) -> None:
        self.database.close()


def build_application(settings: Settings | None = None, *, database: Database | None = None) -> Application:
    """The application `settings` describe (the environment's when None). `database`: one already open, to share
    (tests do); else one is opened for `settings.database`. Observability is process-wide: the settings of the last
    application built are in force."""
    settings = settings or Settings.from_environ()
    install(settings.observability)
    database = database or Database(settings.database)
    pager = Pager(settings.cursors.signing_key.get_secret_value().encode())
    services = Services(
        students=StudentService(database, pager),
        courses=CourseService(database, pager),
        terms=TermService(database, pager),
        offerings=OfferingService(database, pager),
        enrollments=EnrollmentService(database, pager),
        transcripts=TranscriptService(database, pager),
        audit=AuditService(database, pager),
        readiness=ReadinessService(database),
        authenticator=build_authenticator(settings.auth),
    )
    return Application(settings, database, Api(services, max_body_bytes=settings.http.max_body_bytes))
