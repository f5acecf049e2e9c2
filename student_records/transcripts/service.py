"""Use cases of transcripts and of the grade scale: registrars (and admins) read any transcript, a student their
own; the grade scale is open to every role. Every transcript read is audited by the statement that makes it."""

from ..access import Caller, require_transcript_reader
from ..service import Service, found
from .models import GradeScale, Transcript
from .repository import TranscriptRepository


class TranscriptService(Service):
    def transcript(self, caller: Caller, student_id: int) -> Transcript:
        require_transcript_reader(caller, student_id)
        return found(TranscriptRepository(self._database).transcript(caller, student_id), "student", student_id)

    def grade_scale(self, caller: Caller) -> GradeScale:
        return GradeScale(items=TranscriptRepository(self._database).grade_scale())
