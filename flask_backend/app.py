"""Flask app factory: WSGI requests in, the shared REST contract behind."""

from collections.abc import Callable

from flask import Flask, Response, request
from werkzeug.exceptions import ClientDisconnected, HTTPException, MethodNotAllowed, NotFound

from application import Application, build_application
from application.settings import Settings
from observability import current_correlation_id, instrument_flask
from rest_contract.api import Api
from rest_contract.errors import MalformedRequest
from rest_contract.http import ApiRequest, ApiResponse, RequestBody
from rest_contract.operations import OPERATIONS
from rest_contract.problems import problem_for_exception, problem_for_rejection
from rest_contract.routing import Operation

from .rate_limit import install_rate_limit


def create_app(settings: Settings | None = None, *, application: Application | None = None) -> Flask:
    """The Flask door of `application` (built from `settings`, the environment's when None)."""
    application = application or build_application(settings)
    api, http = application.api, application.settings.http
    app = Flask(__name__, static_folder=None)
    app.extensions["application"] = application  # what tools (the bench) reach through the app
    instrument_flask(app)
    # API Gateway (and so the Lambda door) accepts a trailing slash; so does this door. An empty segment (`//`) is
    # no route on either door, rather than a redirect to the path without it.
    app.url_map.strict_slashes = False
    app.url_map.merge_slashes = False
    for operation in OPERATIONS:
        app.add_url_rule(
            operation.rule,
            endpoint=operation.operation_id,
            view_func=_view(api, operation),
            methods=[operation.method],
            provide_automatic_options=False,  # API Gateway answers no OPTIONS either
        )
    operations = {operation.operation_id: operation for operation in OPERATIONS}

    def refuse(response: ApiResponse) -> Response:
        operation = operations.get(request.endpoint or "")  # None for a path no operation matches
        return _flask_response(api.refused(operation, response) if operation else response)

    install_rate_limit(app, http, refuse)

    def unmatched(_: HTTPException) -> Response:
        return _flask_response(api.unmatched(request.method, request.path))

    app.register_error_handler(NotFound, unmatched)
    app.register_error_handler(MethodNotAllowed, unmatched)
    app.register_error_handler(Exception, _any_error)
    return app


def _view(api: Api, operation: Operation) -> Callable[..., Response]:
    def view(**path_params: str) -> Response:
        return _flask_response(api.dispatch(operation, _api_request(path_params)))

    # A name of its own: extensions (the rate limiter's exemptions among them) tell views apart by name.
    view.__name__ = view.__qualname__ = operation.operation_id
    return view


def _api_request(path_params: dict[str, str]) -> ApiRequest:
    # Path parameters come decoded: WSGI's PATH_INFO is (PEP 3333), as the Lambda door decodes its own.
    headers = {name.lower(): value for name, value in request.headers.items()}
    stream = request.stream  # read only by an endpoint that takes a body, and never past the limit

    def read_body(limit: int) -> bytes:
        try:
            return stream.read(limit + 1)
        except ClientDisconnected:  # the connection ended before the body its Content-Length announced
            raise MalformedRequest("the request body ended before the length it announced") from None

    return ApiRequest(
        request.method,
        path_params,
        list(request.args.items(multi=True)),
        headers,
        RequestBody(read_body),
        current_correlation_id(),
    )


def _flask_response(response: ApiResponse) -> Response:
    flask_response = Response(response.body, status=response.status, headers=response.all_headers())
    if response.content_type is None:
        del flask_response.headers["Content-Type"]  # Flask would call an empty 204 text/html
    return flask_response


def _any_error(error: Exception) -> Response:
    if isinstance(error, HTTPException):
        # Werkzeug's own rejections (a malformed request, a URI too long) keep their status, as registered problems.
        return _flask_response(problem_for_rejection(error.code or 500, error.description or error.name))
    return _flask_response(problem_for_exception(error))
