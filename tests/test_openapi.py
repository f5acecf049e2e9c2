"""The committed OpenAPI document: fresh, valid, and exactly what both doors serve."""

import json

from openapi_spec_validator import validate

from deployed.contract_check import OPENAPI_PATH
from flask_backend import create_app
from rest_contract.openapi import render
from rest_contract.operations import OPERATIONS


def test_committed_document_is_fresh():
    assert OPENAPI_PATH.read_text() == render(), "openapi.json is stale: run `make generate` and commit it"


def test_responses_are_described_by_rfc_9110_reason_phrases_whichever_python_renders_them():
    document = json.loads(OPENAPI_PATH.read_text())
    described = {
        status: response["description"]
        for operations in document["paths"].values()
        for operation in operations.values()
        for status, response in operation["responses"].items()
    }
    # Python 3.11 and 3.12 name these two as RFC 7231 did ("Request Entity Too Large", "Unprocessable Entity")
    assert described["413"] == "Content Too Large"
    assert described["422"] == "Unprocessable Content"
    assert described["201"] == "Created"


def test_document_is_valid_openapi_3_1():
    document = json.loads(OPENAPI_PATH.read_text())
    assert document["openapi"] == "3.1.0"
    validate(document)


def test_document_lists_every_operation_once():
    document = json.loads(OPENAPI_PATH.read_text())
    documented = {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}
    assert documented == {(op.method, op.path) for op in OPERATIONS}
    assert len({op.operation_id for op in OPERATIONS}) == len(OPERATIONS)


def test_flask_routes_exactly_the_documented_operations(application):
    expected = {(op.method, op.rule) for op in OPERATIONS}
    flask_routes = {
        (method, rule.rule)
        for rule in create_app(application=application).url_map.iter_rules()
        for method in rule.methods - {"HEAD"}
    }
    assert flask_routes == expected
