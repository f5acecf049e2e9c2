"""The observability package's surface and shape: the service imports its façade and nothing else of it; it calls no
private method of Powertools; its modules depend one way; the one piece of process-wide state is the runtime's
holder, and the metrics are flushed in one place; the Lambda door runs without the X-Ray SDK, which only the Flask
door needs."""

import ast
import json
import os
import re
import subprocess
import sys
import types

import observability
from observability import install, installed
from observability.catalog import STUDENTS_CREATED
from tests.observability.stack import REPO_ROOT, UdpCollector

PACKAGE = REPO_ROOT / "observability"
# The service's packages. The tools (local_stack, infra, deployed, bench) and the tests may read the internals: the
# trace viewer speaks the daemon's protocol, the dashboards are checked against the metric catalog.
APP_PACKAGES = ("application", "handlers", "flask_backend", "rest_contract", "student_records")
# What the Lambda artifact does not ship: the Flask door's dependencies (pyproject's `flask` extra) and theirs.
FLASK_ONLY = ("aws_xray_sdk", "wrapt", "flask", "werkzeug", "gunicorn", "limits")


PRIVATE = re.compile(r"_[^_](.*[^_])?")  # _name: not __dunder__, nor Enum's _sunder_
METHODS = (types.FunctionType, staticmethod, classmethod, property)


def _modules() -> dict[str, ast.Module]:
    return {path.stem: ast.parse(path.read_text(encoding="utf-8")) for path in sorted(PACKAGE.glob("*.py"))}


def _references_to_observability(tree: ast.Module) -> list[tuple[int, str, tuple[str, ...]]]:
    """(line, module, names) for each import from observability, and each string naming one of its attributes
    (gunicorn's logger_class)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [
                (node.lineno, alias.name, ()) for alias in node.names if alias.name.split(".")[0] == "observability"
            ]
        elif (
            isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").split(".")[0] == "observability"
        ):
            found.append((node.lineno, node.module or "", tuple(alias.name for alias in node.names)))
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and re.fullmatch(r"observability(\.\w+)+", node.value)
        ):
            module, _, name = node.value.rpartition(".")
            found.append((node.lineno, module, (name,)))
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "observability":
            found.append((node.lineno, "observability", (node.attr,)))
    return found


def test_the_service_uses_the_facade_and_nothing_else_of_the_package():
    # Given every module of the service's packages
    elsewhere = []
    for package in APP_PACKAGES:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            # When one refers to observability
            for line, module, names in _references_to_observability(ast.parse(path.read_text(encoding="utf-8"))):
                # Then it is the façade, and a name the façade exports
                if module != "observability" or not set(names) <= set(observability.__all__):
                    elsewhere.append(f"{path.relative_to(REPO_ROOT)}:{line}: {module} {', '.join(names)}")
    assert elsewhere == []


def test_the_facade_imports_nothing_of_the_flask_door_until_asked():
    # Given a fresh interpreter
    code = f"""
import sys
import observability
flask_only = {FLASK_ONLY!r}
loaded = sorted(name for name in sys.modules if name.split(".")[0] in flask_only)
# When every name of the façade is asked for
exported = [getattr(observability, name) for name in observability.__all__]
print(loaded, "flask" in sys.modules)
"""
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    # Then the façade alone loaded none of the Flask door's dependencies, and each name resolved (Flask's on demand)
    assert result.stdout.split() == ["[]", "True"]


# Lambda's runtime sets these; with a sampled trace header, the invocation is traced.
LAMBDA_INVOCATION = """
import json, os, sys

class NotInTheArtifact:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {flask_only!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}} (the Lambda artifact does not ship it)")
        return None

sys.meta_path.insert(0, NotInTheArtifact())
from handlers.api import lambda_handler

class Context:
    function_name = "student-records-api"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:student-records-api"
    aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e812345678"

event = json.loads(sys.stdin.read())
response = lambda_handler(event, Context())
print(json.dumps({{"status": response["statusCode"], "loaded": sorted(
    name for name in sys.modules if name.split(".")[0] in {flask_only!r})}}))
"""


def test_the_lambda_door_serves_and_traces_without_the_x_ray_sdk(database_conninfo):
    # Given an invocation of the readiness check (a statement, a metric, a log line, a trace), sampled by Lambda
    event = json.loads((REPO_ROOT / "tests" / "fixtures" / "apigw-rest-proxy-get.json").read_text())
    event.update(resource="/health/ready", path="/health/ready", pathParameters=None, body=None, isBase64Encoded=False)
    root = "1-5759e988-bd862e3fe1be46a994272793"
    daemon = UdpCollector()
    env = {
        **os.environ,
        "DATABASE_URL": database_conninfo,
        "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{daemon.port}",
        "XRAY_SAMPLING": "all",
        "_X_AMZN_TRACE_ID": f"Root={root};Parent=53995c3f42cd8ad8;Sampled=1",
    }
    try:
        # When the Lambda door serves it in an interpreter where the Flask door's dependencies cannot be imported
        result = subprocess.run(
            [sys.executable, "-c", LAMBDA_INVOCATION.format(flask_only=FLASK_ONLY)],
            input=json.dumps(event),
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        # Then it answers, imported none of them, and its trace reached the daemon
        answer = json.loads(result.stdout.splitlines()[-1])
        assert answer == {"status": 200, "loaded": []}
        (handler,) = daemon.wait_for(lambda documents: any(d["trace_id"] == root for d in documents))
        assert handler["name"] == "## lambda_handler" and handler["subsegments"]
    finally:
        daemon.close()


def test_no_private_attribute_of_another_object_is_used_nor_overridden():
    # Given the package's modules
    used = []
    for name, tree in _modules().items():
        for node in ast.walk(tree):
            # When one reads an attribute whose name is private (one underscore) on anything but itself
            if (
                isinstance(node, ast.Attribute)
                and PRIVATE.fullmatch(node.attr)
                and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
            ):
                used.append(f"{name}.py:{node.lineno}: {ast.unparse(node)}")
    # Then none does (Powertools' _get_latest_trace_id was one)
    assert used == []
    # And no class of the package overrides a private method of a library's class
    overridden = []
    for module_name in _modules():
        module = __import__(f"observability.{module_name}", fromlist=["_"])
        for value in vars(module).values():
            if isinstance(value, type) and value.__module__ == module.__name__:
                for attribute, defined in vars(value).items():
                    if (
                        isinstance(defined, METHODS)
                        and PRIVATE.fullmatch(attribute)
                        and any(
                            attribute in vars(base)
                            for base in value.__mro__[1:]
                            if not base.__module__.startswith("observability")
                        )
                    ):
                        overridden.append(f"{value.__qualname__}.{attribute}")
    assert overridden == []


def _intra_package_imports(tree: ast.Module) -> set[str]:
    """The package's modules a module imports when it runs (at its top or in a function), not for annotations only."""
    type_checking_only = {
        id(child)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
        for statement in node.body
        for child in ast.walk(statement)
    }
    imported = set()
    for node in ast.walk(tree):
        if id(node) in type_checking_only or not isinstance(node, ast.ImportFrom):
            continue
        if node.level == 1:
            imported |= {node.module} if node.module else {alias.name for alias in node.names}
        elif (node.module or "").startswith("observability."):
            imported.add(node.module.split(".")[1])
    return imported


def _documented_order() -> list[str]:
    """The package's modules as docs/observability.md ("The code") lists them."""
    section = (REPO_ROOT / "docs" / "observability.md").read_text(encoding="utf-8").split("\n## The code\n")[1]
    return re.findall(r"^\| `(\w+)\.py` \|", section, re.MULTILINE)


def test_the_modules_of_the_package_depend_one_way_in_the_order_the_docs_list_them():
    # Given the modules as the documentation lists them, and what each imports of the others when it runs
    modules = _modules()
    order = _documented_order()
    assert sorted(order) == sorted(set(modules) - {"__init__"}), "docs/observability.md lists other modules"
    # Then each imports only modules listed before it (so no import leads back to the module it started from)
    later = [
        f"{name} imports {imported}"
        for position, name in enumerate(order)
        for imported in sorted(_intra_package_imports(modules[name]) & set(order[position:]))
    ]
    assert later == []


def test_the_runtime_holder_is_the_only_state_set_from_a_function_or_another_module():
    set_elsewhere = []
    for name, tree in _modules().items():
        imported_modules = {
            alias.asname or alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.level == 1 and not node.module
            for alias in node.names
        }
        imported_modules |= {
            (alias.asname or alias.name).split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        }
        for function in [node for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]:
            for node in ast.walk(function):
                # A global rebound from inside a function: only runtime.install, the documented holder
                if isinstance(node, ast.Global) and (name, function.name) != ("runtime", "install"):
                    set_elsewhere.append(f"{name}.py:{node.lineno}: global {', '.join(node.names)}")
        for node in ast.walk(tree):
            # An attribute of another module assigned (signal_writer.writer was set from flask_door)
            targets = (
                node.targets
                if isinstance(node, ast.Assign)
                else [node.target]
                if isinstance(node, (ast.AugAssign, ast.AnnAssign))
                else []
            )
            for target in targets:
                if (
                    isinstance(target, ast.Attribute)
                    and isinstance(target.value, ast.Name)
                    and target.value.id in imported_modules
                ):
                    set_elsewhere.append(f"{name}.py:{node.lineno}: {ast.unparse(target)} =")
    assert set_elsewhere == []


def test_the_metrics_are_flushed_in_one_place():
    # Given every module of the package and of the service
    flushes = []
    for path in sorted(
        [*PACKAGE.glob("*.py"), *(path for package in APP_PACKAGES for path in (REPO_ROOT / package).rglob("*.py"))]
    ):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for function in [node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)]:
            for node in ast.walk(function):
                # When a metrics recorder is flushed
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "flush"
                    and ast.unparse(node.func.value).endswith("recorder")
                ):
                    flushes.append(f"{path.relative_to(REPO_ROOT)}:{function.name}")
    # Then it is by the Observability's flush, the one flush point the doors call
    assert flushes == ["observability/runtime.py:flush"]


def test_installing_the_settings_in_force_changes_nothing_and_other_settings_close_the_one_before():
    # Given the Observability in force, when an application is built with the same settings, then it stays in force
    in_force = installed()
    assert install(in_force.settings.model_copy()) is in_force
    # Given one whose metrics a test reads, holding a metric not yet flushed
    written: list[dict] = []
    reading = install(in_force.settings, metrics_sink=lambda line: written.append(json.loads(line)))
    reading.recorder.put(STUDENTS_CREATED, 1)
    # When other settings are put in force
    replacing = install(in_force.settings.model_copy(update={"signals_queue_max": 5}))
    # Then the one they replace wrote what it held
    assert replacing is installed() is not reading
    assert [document["StudentsCreated"] for document in written] == [1]


def test_until_a_composition_root_installs_settings_the_defaults_are_in_force():
    code = "import observability; print(observability.installed().settings == observability.ObservabilitySettings())"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={name: value for name, value in os.environ.items() if name != "OBSERVABILITY"},
        check=False,
    )
    assert result.stdout.split() == ["True"], result.stderr
