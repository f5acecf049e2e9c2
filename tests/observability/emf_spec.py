"""Checks an EMF document against the CloudWatch Embedded Metric Format specification and our allow-lists."""

from observability.catalog import CATALOG, Dimension
from observability.requests import FLASK, LAMBDA, NO_ROUTE
from rest_contract.operations import OPERATIONS

ALLOWED_DIMENSION_VALUES = {
    Dimension.FRONT_DOOR.value: {LAMBDA, FLASK},
    Dimension.ROUTE.value: {operation.path for operation in OPERATIONS} | {NO_ROUTE},
    Dimension.QUERY_NAME.value: None,  # checked against the data layer's names by the caller
    Dimension.FUNCTION_NAME.value: None,
}


def assert_valid_emf(document: dict, namespace: str = "StudentRecords", catalog: dict = CATALOG) -> None:
    metadata = document["_aws"]
    assert isinstance(metadata["Timestamp"], int)
    directives = metadata["CloudWatchMetrics"]
    assert len(directives) >= 1
    for directive in directives:
        assert directive["Namespace"] == namespace
        assert 1 <= len(directive["Metrics"]) <= 100
        for dimension_set in directive["Dimensions"]:
            assert len(dimension_set) <= 30
            for name in dimension_set:
                assert name in ALLOWED_DIMENSION_VALUES, f"dimension {name} is not on the allow-list"
                value = document[name]
                assert isinstance(value, str) and 1 <= len(value) <= 1024
                allowed = ALLOWED_DIMENSION_VALUES[name]
                assert allowed is None or value in allowed, f"{name}={value!r} is not an allowed value"
        for metric in directive["Metrics"]:
            spec = catalog.get(metric["Name"])
            assert spec is not None, f"{metric['Name']} is not in the catalog"
            assert metric["Unit"] == spec.unit.value
            assert [list(ds) for ds in directive["Dimensions"]] == [[d.value for d in ds] for ds in spec.dimension_sets]
            values = document[metric["Name"]]
            values = values if isinstance(values, list) else [values]
            assert 1 <= len(values) <= 100
            assert all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
