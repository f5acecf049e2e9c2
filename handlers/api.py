"""The Lambda front door: API Gateway REST proxy events in, the shared REST contract behind."""

import base64
import binascii
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, unquote

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.utilities.typing import LambdaContext

from application import Application, build_application
from application.settings import Settings
from observability import current_correlation_id, instrument_api_handler
from rest_contract.api import Api
from rest_contract.errors import MalformedRequest
from rest_contract.http import ApiRequest, ApiResponse, RequestBody
from rest_contract.operations import OPERATIONS
from rest_contract.problems import problem_for_exception
from rest_contract.routing import Operation

ProxyHandler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


def create_handler(settings: Settings | None = None, *, application: Application | None = None) -> ProxyHandler:
    """A handler of proxy events for `application` (built from `settings`, the environment's when None)."""
    api = (application or build_application(settings)).api
    resolver = APIGatewayRestResolver()
    for operation in OPERATIONS:
        _register(resolver, api, operation)

    @resolver.not_found
    def _route_not_found(_: NotFoundError) -> Response[str | None]:
        event = resolver.current_event
        return _lambda_response(api.unmatched(event.http_method, unquote(event.path)))

    @resolver.exception_handler(Exception)  # type: ignore[untyped-decorator]  # Powertools leaves it unannotated
    def _any_error(error: Exception) -> Response[str | None]:  # raised outside dispatch: reading the event itself
        return _lambda_response(problem_for_exception(error))

    @instrument_api_handler
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        return resolver.resolve(_routed_as_decoded(event), context)

    return lambda_handler


_handler: ProxyHandler | None = None


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda's entry point: this execution environment's handler, built at its first invocation from the
    environment's settings (which a bad value then fails, naming the variable), and reused by every warm one."""
    global _handler  # noqa: PLW0603 - one handler per execution environment, which Lambda reuses while warm
    if _handler is None:
        _handler = create_handler()
    return _handler(event, context)


def _routed_as_decoded(event: dict[str, Any]) -> dict[str, Any]:
    """The event with its path decoded once, then encoded again but for its slashes: the path the Flask door routes.
    API Gateway REST hands a Lambda proxy the path as the client encoded it, and decodes only the parameters it
    matched (`path` and `pathParameters` in
    https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html
    ), while a WSGI server decodes the path before any routing (PEP 3333's PATH_INFO). So on both doors `%31` is
    `1`, and an encoded slash separates segments as a slash does: `/students/..%2F..%2Fetc%2Fpasswd` matches no
    route. The parameters the router matches are decoded once more (`_register`): once in all."""
    path = event.get("path")
    if not isinstance(path, str):
        return event
    return {**event, "path": quote(unquote(path), safe="/")}


def _register(resolver: APIGatewayRestResolver, api: Api, operation: Operation) -> None:
    def view(**path_params: str) -> Response[str | None]:
        path = resolver.current_event.path
        if "//" in path:  # an empty segment: Powertools' rule accepts trailing ones, the Flask door's router none
            return _lambda_response(api.unmatched(operation.method, unquote(path)))
        decoded = {name: unquote(value) for name, value in path_params.items()}
        return _lambda_response(api.dispatch(operation, _api_request(resolver, decoded)))

    view.__name__ = operation.operation_id
    resolver.route(operation.rule, method=operation.method)(view)


def _api_request(resolver: APIGatewayRestResolver, path_params: dict[str, str]) -> ApiRequest:
    event = resolver.current_event
    query = [
        (name, value) for name, values in (event.multi_value_query_string_parameters or {}).items() for value in values
    ]
    # Every value of a repeated header, joined as Flask joins them: two Authorization headers must not
    # become "the last one wins" on one door only.
    values_by_name: dict[str, list[str]] = {}
    multi = event.get("multiValueHeaders") or {name: [value] for name, value in (event.get("headers") or {}).items()}
    for name, values in multi.items():
        values_by_name.setdefault(name.lower(), []).extend(values or [])
    headers = {name: ", ".join(values) for name, values in values_by_name.items()}
    body = event.body
    is_base64_encoded = bool(event.is_base64_encoded)
    return ApiRequest(
        event.http_method,
        path_params,
        query,
        headers,
        RequestBody(lambda limit: _decoded_body(body, is_base64_encoded)),
        current_correlation_id(),
    )


def _decoded_body(body: str | None, is_base64_encoded: bool) -> bytes:
    """The body as sent: API Gateway base64-encodes what it does not pass as text. Strictly decoded: a body that
    claims base64 and is not is a malformed request, never bytes guessed from it."""
    if body is None:
        return b""
    if not is_base64_encoded:
        try:
            return body.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:  # a lone surrogate: text no UTF-8 client sent
            raise MalformedRequest("the request body is not valid UTF-8") from None
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):  # ValueError: characters outside ASCII
        raise MalformedRequest("the request body is marked base64-encoded but is not valid base64") from None


def _lambda_response(response: ApiResponse) -> Response[str | None]:
    return Response(
        status_code=response.status,
        content_type=response.content_type,
        body=response.body.decode() if response.body else None,
        headers=dict(response.headers),
    )
