"""The Lambda front door: API Gateway REST proxy events in, the shared REST contract behind."""

import base64

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.utilities.typing import LambdaContext

from observability.lambda_door import instrument_api_handler
from observability.requests import set_route
from rest_contract.http import ApiRequest, ApiResponse
from rest_contract.operations import OPERATIONS, Operation, unmatched_route
from rest_contract.problems import problem_for_exception

app = APIGatewayRestResolver()


def _api_request(path_params: dict[str, str]) -> ApiRequest:
    event = app.current_event
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
    return ApiRequest(event.http_method, path_params, query, headers, raw_body)


def _lambda_response(response: ApiResponse) -> Response:
    return Response(
        status_code=response.status,
        content_type=response.content_type,
        body=response.body.decode() if response.body else None,
        headers=dict(response.headers),
    )


def _register(operation: Operation) -> None:
    def view(**path_params: str) -> Response:
        set_route(operation.path)
        return _lambda_response(operation.endpoint(_api_request(path_params)))

    view.__name__ = operation.operation_id
    app.route(operation.rule, method=operation.method)(view)


for _operation in OPERATIONS:
    _register(_operation)


@app.not_found
def _route_not_found(_: NotFoundError) -> Response:
    error = unmatched_route(app.current_event.http_method, app.current_event.path)
    return _lambda_response(problem_for_exception(error))


@app.exception_handler(Exception)
def _any_error(error: Exception) -> Response:
    return _lambda_response(problem_for_exception(error))


@instrument_api_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
