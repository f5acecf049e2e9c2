"""`sam build` packages each function with exactly what it needs: the built artifact imports in a clean
python3.12 environment that has nothing else but what the Lambda runtime itself provides."""

import functools
import importlib.util
import subprocess
from pathlib import Path

import pytest

from tests.infra.tools import REPO_ROOT, TEMPLATE, run_tool, tool

FUNCTIONS = {
    "ApiFunction": "handlers.api",
    "MigrationsFunction": "handlers.migrations",
    "SigningKeysFunction": "handlers.signing_keys",
    "DeploymentSmokeCheckFunction": "handlers.deployment_hooks",
}
# The Lambda python3.12 runtime ships boto3 and its dependencies; the build leaves them out on purpose.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six", "urllib3")
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
def python312() -> Path:
    """The python3.12 the Makefile builds with (`make lambda-python`: PYTHON312, else PATH, else pyenv)."""
    found = subprocess.run(
        ["make", "-s", "--no-print-directory", "lambda-python"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if found.returncode != 0:
        pytest.fail(found.stderr)
    return Path(found.stdout.strip())


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory) -> Path:
    build = tmp_path_factory.mktemp("sam") / "build"
    # Given the python3.12 the Makefile found, as for `make sam-build`; When sam builds the template
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
        PYTHON312=str(python312()),
    )
    # Then it succeeds
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return build


def runtime_sdk(directory: Path) -> Path:
    """What the Lambda runtime provides besides the standard library, taken from this environment."""
    directory.mkdir()
    for name in RUNTIME_PROVIDED:
        origin = Path(importlib.util.find_spec(name).origin)
        package = origin.parent if origin.name == "__init__.py" else origin
        (directory / package.name).symlink_to(package)
    return directory


@pytest.mark.parametrize(("function", "module"), FUNCTIONS.items())
def test_built_function_imports_in_a_clean_python312_with_only_its_artifact(build_dir, tmp_path, function, module):
    artifact = build_dir / function
    # Given the artifact, which holds only what the function runs
    packaged = {path.name for path in artifact.iterdir()}
    assert {"application", "handlers", "rest_contract", "student_records", "observability", "sql"} <= packaged
    assert not [name for name in NEVER_PACKAGED if (artifact / name).exists()]
    # And a clean python3.12 environment: no site-packages of ours, no PYTHONPATH (-I), only the artifact
    # and what the runtime provides on sys.path, as in Lambda
    venv = tmp_path / "venv"
    subprocess.run([python312(), "-m", "venv", "--without-pip", venv], check=True)
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
