"""`sam build` packages each function with exactly what it needs, for Lambda's python3.12 on x86_64: every artifact
passes the static checks of infra/lambda_artifact.py and, where this machine has a python3.12, carries its bytecode and
imports in a clean python3.12 environment that has nothing else but what the Lambda runtime itself provides. Without a
python3.12 the build still packages (tests/infra/test_lambda_artifact.py), and the static checks stand for the
import."""

import functools
import importlib.util
import subprocess
from pathlib import Path

import pytest

from infra.lambda_artifact import RUNTIME_PROVIDED, handler_modules, problems
from tests.infra.tools import REPO_ROOT, TEMPLATE, run_tool, tool

FUNCTIONS = handler_modules(TEMPLATE)
NEVER_PACKAGED = (
    ".venv",
    ".data",
    ".tools",
    "tests",
    "local_stack",
    "flask_backend",
    "boto3",
    "botocore",
    # The Flask door's X-Ray SDK (pyproject's `flask` extra): the Lambda door writes its own documents.
    "aws_xray_sdk",
    "wrapt",
)


@functools.cache
def python312() -> Path | None:
    """The python3.12 the Makefile builds with (`make lambda-python`: PYTHON312, else PATH, else pyenv), if any."""
    found = subprocess.run(
        ["make", "-s", "--no-print-directory", "lambda-python"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return Path(found.stdout.strip()) if found.returncode == 0 else None


def require_python312() -> Path:
    python = python312()
    if python is None:
        pytest.skip(
            "no python3.12 on this machine (`make lambda-python` says how to name one): the static checks stand"
        )
    return python


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory) -> Path:
    build = tmp_path_factory.mktemp("sam") / "build"
    # Given the python3.12 the Makefile found, if any, as for `make sam-build`; When sam builds the template
    result = run_tool(
        [
            tool("sam"),
            "build",
            "--template-file",
            TEMPLATE,
            "--build-dir",
            build,
            "--cache-dir",
            build.parent / "cache",
        ],
        PYTHON312=str(python312() or ""),
    )
    # Then it succeeds
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return build


def runtime_sdk(directory: Path) -> Path:
    """What the Lambda runtime provides besides the standard library, taken from this environment."""
    directory.mkdir()
    for name in RUNTIME_PROVIDED.values():
        origin = Path(importlib.util.find_spec(name).origin)
        package = origin.parent if origin.name == "__init__.py" else origin
        (directory / package.name).symlink_to(package)
    return directory


@pytest.mark.parametrize(("function", "module"), FUNCTIONS.items())
def test_built_function_holds_only_what_it_runs_and_fits_lambdas_python312(build_dir, function, module):
    artifact = build_dir / function
    # Then the artifact holds our packages and the migrations, nothing of the repository's tooling or tests
    packaged = {path.name for path in artifact.iterdir()}
    assert {"application", "handlers", "rest_contract", "student_records", "observability", "sql"} <= packaged
    assert not [name for name in NEVER_PACKAGED if (artifact / name).exists()]
    # And its wheels, extension modules, requirements and the imports its handler runs fit the runtime
    assert problems(artifact, module) == []


@pytest.mark.parametrize(("function", "module"), FUNCTIONS.items())
def test_built_function_imports_in_a_clean_python312_with_its_bytecode(build_dir, tmp_path, function, module):
    python = require_python312()
    artifact = build_dir / function
    # Given the artifact, built with this python3.12: every module's bytecode for it is beside it
    modules = list(artifact.rglob("*.py"))
    assert [
        path for path in modules if not (path.parent / "__pycache__" / f"{path.stem}.cpython-312.pyc").exists()
    ] == []
    # And a clean python3.12 environment: no site-packages of ours, no PYTHONPATH (-I), only the artifact
    # and what the runtime provides on sys.path, as in Lambda
    venv = tmp_path / "venv"
    subprocess.run([python, "-m", "venv", "--without-pip", venv], check=True)
    sdk = runtime_sdk(tmp_path / "runtime")
    code = f"import sys; sys.path[:0] = [{str(artifact)!r}, {str(sdk)!r}]; import {module}; print({module}.__file__)"
    # When the handler module is imported
    result = subprocess.run(
        [venv / "bin" / "python", "-I", "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
        timeout=120,
        check=False,
    )
    # Then it imports, from the artifact
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith(str(artifact))


def test_built_template_points_at_the_artifacts(build_dir):
    built = (build_dir / "template.yaml").read_text()
    for function in FUNCTIONS:
        assert f"CodeUri: {function}" in built
