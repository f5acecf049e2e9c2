"""The Lambda front door: API Gateway REST proxy events in, the shared REST contract behind."""

import base64
from collections.abc import Callable

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.utilities.typing import LambdaContext

from application import Application, build_application
from application.settings import Settings
from observability.lambda_door import instrument_api_handler
from observability.requests import current_correlation_id
from rest_contract.api import Api
from rest_contract.http import ApiRequest, ApiResponse
from rest_contract.operations import OPERATIONS, Operation
from rest_contract.problems import problem_for_exception

ProxyHandler = Callable[[dict, LambdaContext], dict]


def create_handler(settings: Settings | None = None, *, application: Application | None = None) -> ProxyHandler:
    """A handler of proxy events for `application` (built from `settings`, the environment's when None)."""
    api = (application or build_application(settings)).api
    resolver = APIGatewayRestResolver()
    for operation in OPERATIONS:
        _register(resolver, api, operation)

    @resolver.not_found
    def _route_not_found(_: NotFoundError) -> Response:
        return _lambda_response(api.unmatched(resolver.current_event.http_method, resolver.current_event.path))

    @resolver.exception_handler(Exception)
    def _any_error(error: Exception) -> Response:  # raised outside dispatch: reading the event itself
        return _lambda_response(problem_for_exception(error))

    @instrument_api_handler
    def lambda_handler(event: dict, context: LambdaContext) -> dict:
        return resolver.resolve(event, context)

    return lambda_handler


_handler: ProxyHandler | None = None


def lambda_handler(event: dict, context: LambdaContext) -> dict:
    """Lambda's entry point: this execution environment's handler, built at its first invocation from the
    environment's settings (which a bad value then fails, naming the variable), and reused by every warm one."""
    global _handler
    if _handler is None:
        _handler = create_handler()
    return _handler(event, context)


def _register(resolver: APIGatewayRestResolver, api: Api, operation: Operation) -> None:
    def view(**path_params: str) -> Response:
        return _lambda_response(api.dispatch(operation, _api_request(resolver, path_params)))

    view.__name__ = operation.operation_id
    resolver.route(operation.rule, method=operation.method)(view)


def _api_request(resolver: APIGatewayRestResolver, path_params: dict[str, str]) -> ApiRequest:
    event = resolver.current_event
    body = event.body
    raw_body = None
    if body is not None:
        raw_body = base64.b64decode(body) if event.is_base64_encoded else body.encode("utf-8", "surrogateescape")
    query = [
        (name, value)
        for name, values in (event.multi_value_query_string_parameters or {}).items()
        for value in values
    ]
    # Every value of a repeated header, joined as Flask joins them: two Authorization headers must not
    # become "the last one wins" on one door only.
    values_by_name: dict[str, list[str]] = {}
    multi = event.get("multiValueHeaders") or {name: [value] for name, value in (event.get("headers") or {}).items()}
    for name, values in multi.items():
        values_by_name.setdefault(name.lower(), []).extend(values or [])
    headers = {name: ", ".join(values) for name, values in values_by_name.items()}
    return ApiRequest(event.http_method, path_params, query, headers, raw_body, current_correlation_id())


def _lambda_response(response: ApiResponse) -> Response:
    return Response(
        status_code=response.status,
        content_type=response.content_type,
        body=response.body.decode() if response.body else None,
        headers=dict(response.headers),
    )
