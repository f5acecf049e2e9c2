"""Flask app factory: WSGI requests in, the shared REST contract behind."""

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from observability.flask_door import instrument_flask
from observability.requests import set_route
from rest_contract.http import ApiRequest, ApiResponse
from rest_contract.operations import OPERATIONS, Operation, unmatched_route
from rest_contract.parsing import MAX_BODY_BYTES
from rest_contract.problems import ProblemType, problem_for_exception, problem_response

from .rate_limit import install_rate_limit


def _api_request(path_params: dict[str, str]) -> ApiRequest:
    # One byte past the limit is enough to know it was exceeded, without reading a huge body.
    body = request.stream.read(MAX_BODY_BYTES + 1) if request.method in ("POST", "PATCH", "PUT") else None
    headers = {name.lower(): value for name, value in request.headers.items()}
    return ApiRequest(request.method, path_params, list(request.args.items(multi=True)), headers, body)


def _flask_response(response: ApiResponse) -> Response:
    flask_response = Response(response.body, status=response.status, headers=response.all_headers())
    if response.content_type is None:
        del flask_response.headers["Content-Type"]  # Flask would call an empty 204 text/html
    return flask_response


def _view(operation: Operation):
    def view(**path_params: str) -> Response:
        set_route(operation.path)
        return _flask_response(operation.endpoint(_api_request(path_params)))

    # A name of its own: extensions (the rate limiter's exemptions among them) tell views apart by name.
    view.__name__ = view.__qualname__ = operation.operation_id
    return view


def _unmatched(_: HTTPException) -> Response:
    return _flask_response(problem_for_exception(unmatched_route(request.method, request.path)))


def _any_error(error: Exception) -> Response:
    if isinstance(error, HTTPException):
        # Werkzeug's own rejections (a malformed request line, say) keep their status, as problem documents.
        problem = ProblemType(f"http-{error.code}", error.name, error.code or 500)
        return _flask_response(problem_response(problem, error.description or error.name))
    return _flask_response(problem_for_exception(error))


def create_app() -> Flask:
    app = Flask(__name__, static_folder=None)
    instrument_flask(app)
    # API Gateway (and so the Lambda door) accepts a trailing slash; so does this door.
    app.url_map.strict_slashes = False
    for operation in OPERATIONS:
        app.add_url_rule(
            operation.rule,
            endpoint=operation.operation_id,
            view_func=_view(operation),
            methods=[operation.method],
            provide_automatic_options=False,  # API Gateway answers no OPTIONS either
        )
    install_rate_limit(app, _flask_response)
    app.register_error_handler(NotFound, _unmatched)
    app.register_error_handler(MethodNotAllowed, _unmatched)
    app.register_error_handler(Exception, _any_error)
    return app
