"""The REST contract as both doors call it: a door turns its framework's request into an ApiRequest, finds the
Operation its router matched, and hands both to dispatch; what comes back is the ApiResponse to send."""

from observability import set_route
from student_records.access import Caller

from .http import ApiRequest, ApiResponse
from .operations import unmatched_route
from .problems import problem_for_exception
from .routing import Context, Operation, Services


class Api:
    def __init__(self, services: Services, *, max_body_bytes: int) -> None:
        self.services = services
        self._max_body_bytes = max_body_bytes

    def dispatch(self, operation: Operation, request: ApiRequest) -> ApiResponse:
        """Names the route for logs, metrics and traces, authenticates the caller unless the operation is public,
        runs the endpoint, and answers any error as its problem document."""
        set_route(operation.path)
        try:
            caller = None if operation.public else self._caller(request)
            return operation.endpoint(Context(request, self.services, self._max_body_bytes, caller))
        except Exception as error:  # noqa: BLE001 - any: every error a request can raise has its problem document, or is a 500
            return problem_for_exception(error)

    def refused(self, operation: Operation, response: ApiResponse) -> ApiResponse:
        """A request its door refused before dispatching it (the Flask door's rate limit): the door's answer, the
        request named by its route as a dispatched one is."""
        set_route(operation.path)
        return response

    def unmatched(self, method: str, path: str) -> ApiResponse:
        """What a request no operation matches gets: 405 when the path exists with other methods, else 404."""
        return problem_for_exception(unmatched_route(method, path))

    def _caller(self, request: ApiRequest) -> Caller:
        identity = self.services.authenticator.identify(request.header("authorization"))
        return Caller(identity.subject, identity.role, request.correlation_id, identity.student_id)
