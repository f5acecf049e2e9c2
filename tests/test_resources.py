"""One pattern per resource: each resource's code is its package (models, service, repository) and its routes module,
so that adding a route to it touches only those files and the generated ones (README.md, "Adding a route"). A
resource reaches the code it shares with the others, and another resource's models (its data contracts), nothing
else of another resource."""

import ast
from pathlib import Path

import pytest

from rest_contract import operations
from rest_contract.routes import audit, catalogue, enrollments, health, students, transcripts

REPO_ROOT = Path(__file__).resolve().parents[1]
DOMAIN = REPO_ROOT / "student_records"
RESOURCES = ("students", "catalogue", "enrollments", "transcripts", "audit")
# What every resource may use: the shared pieces of the domain and of the data layer.
SHARED = {"access", "concurrency", "errors", "models", "paging", "service", "settings", "data"}
# In the order openapi.json documents them.
ROUTES = (health, students, audit, catalogue, enrollments, transcripts)


def _imported(path: Path, package: str) -> set[str]:
    """The modules a file imports, absolute (`student_records.catalogue.models`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = [package, *path.relative_to(REPO_ROOT / package).parent.parts]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = here[: len(here) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            found |= {module} if node.module else {f"{module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return found


def _resource_of(module: str) -> tuple[str, str] | None:
    """(resource, its module) for a module of a resource package of the domain."""
    parts = module.split(".")
    if len(parts) >= 2 and parts[0] == "student_records" and parts[1] in RESOURCES:
        return parts[1], ".".join(parts[2:])
    return None


@pytest.mark.parametrize("resource", RESOURCES)
def test_each_resource_package_holds_its_models_service_and_repository(resource):
    assert {"models.py", "service.py", "repository.py"} <= {path.name for path in (DOMAIN / resource).iterdir()}


@pytest.mark.parametrize("resource", RESOURCES)
def test_a_resource_uses_the_shared_code_and_other_resources_models_only(resource):
    for path in (DOMAIN / resource).glob("*.py"):
        for module in _imported(path, "student_records"):
            parts = module.split(".")
            if parts[0] != "student_records":
                continue
            owner = _resource_of(module)
            if owner is None:
                assert parts[1] in SHARED, f"{path.name} imports {module}, which is neither shared nor a resource"
            else:
                assert owner[0] == resource or owner[1] == "models", f"{path.name} imports {module}"


def test_the_shared_code_knows_no_resource():
    for path in [*DOMAIN.glob("*.py"), *(DOMAIN / "data").glob("*.py")]:
        if path.stem in SHARED or path.parent.name == "data":
            imported = {module for module in _imported(path, "student_records") if _resource_of(module)}
            assert imported == set(), f"{path.relative_to(REPO_ROOT)} imports {imported}"


@pytest.mark.parametrize("routes", ROUTES, ids=lambda routes: routes.__name__.rpartition(".")[2])
def test_a_routes_module_serves_its_resource_only(routes):
    name = routes.__name__.rpartition(".")[2]
    path = REPO_ROOT / "rest_contract" / "routes" / f"{name}.py"
    for module in _imported(path, "rest_contract"):
        owner = _resource_of(module)
        assert owner is None or owner[0] == name or owner[1] == "models", f"{name} routes import {module}"
        assert not module.startswith("rest_contract.routes."), f"{name} routes import {module}"


def test_the_route_table_is_each_resources_operations_in_the_documented_order():
    assert tuple(operation for routes in ROUTES for operation in routes.OPERATIONS) == operations.OPERATIONS
    for routes in ROUTES:
        for operation in routes.OPERATIONS:
            # Each endpoint is its routes module's own, or one its Resource declared there.
            assert operation.endpoint.__module__ in (routes.__name__, "rest_contract.routing"), operation.operation_id
