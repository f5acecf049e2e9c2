"""The committed OpenAPI document: fresh, valid, and exactly what both doors serve."""

import json

from openapi_spec_validator import validate

from deployed.contract_check import OPENAPI_PATH
from flask_backend import create_app
from rest_contract.openapi import render
from rest_contract.operations import OPERATIONS


def test_committed_document_is_fresh():
    assert OPENAPI_PATH.read_text() == render(), "openapi.json is stale: run `make generate` and commit it"


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
