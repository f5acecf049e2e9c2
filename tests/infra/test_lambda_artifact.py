"""A function builds without a python3.12, saying what that costs, and infra/lambda_artifact.py's static checks pass on
it and catch what would break it in Lambda's python3.12: a wheel for another Python or platform, an extension module
built for another Python, a requirement removed or at a version its dependant refuses, an import its handler runs that
finds nothing. Only what importing the handler runs is followed, as the build test's real import does."""

import ast
import shutil
import subprocess
from pathlib import Path

import pytest

from infra.lambda_artifact import imported_modules, main, problems
from tests.infra.tools import REPO_ROOT

HANDLER = "handlers.api"


@pytest.fixture(scope="module")
def built_without_python312(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    artifact = tmp_path_factory.mktemp("build") / "ApiFunction"
    artifact.mkdir()
    # Given no python3.12 (PYTHON312 empty); When sam build's target for one function runs, as `sam build` runs it
    result = subprocess.run(
        ["make", "-s", "--no-print-directory", "build-ApiFunction", f"ARTIFACTS_DIR={artifact}", "PYTHON312="],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return artifact, result


@pytest.fixture
def artifact(built_without_python312) -> Path:
    return built_without_python312[0]


def changeable_copy(artifact: Path, destination: Path, *copied: str) -> Path:
    """The artifact as links to its entries, but for the entries named, which are copied to be changed."""
    destination.mkdir()
    for entry in artifact.iterdir():
        if entry.name not in copied:
            (destination / entry.name).symlink_to(entry)
        elif entry.is_dir():
            shutil.copytree(entry, destination / entry.name)
        else:
            shutil.copy2(entry, destination / entry.name)
    return destination


def dist_info(artifact: Path, distribution: str) -> str:
    return next(path.name for path in artifact.glob(f"{distribution}-*.dist-info"))


def test_without_a_python312_the_function_still_builds_without_bytecode_and_says_so(built_without_python312):
    artifact, result = built_without_python312
    # Then it succeeds, and says what building without python3.12 means and how to give one
    assert result.returncode == 0, result.stderr
    assert "no python3.12 found" in result.stderr and "each cold start compiles every module" in result.stderr
    assert "PYTHON312=/path/to/python3.12" in result.stderr
    # And ships no bytecode (bytecode of another Python would be dead weight) but everything the handler runs
    assert not list(artifact.rglob("*.pyc"))
    assert problems(artifact, HANDLER) == []


def test_a_wheel_for_another_python_is_named(artifact, tmp_path):
    # Given an artifact whose pydantic-core wheel is CPython 3.11's
    wheel_info = dist_info(artifact, "pydantic_core")
    changed = changeable_copy(artifact, tmp_path / "changed", wheel_info)
    wheel = changed / wheel_info / "WHEEL"
    lines = [line for line in wheel.read_text().splitlines() if not line.startswith("Tag:")]
    wheel.write_text("\n".join([*lines, "Tag: cp311-cp311-manylinux_2_17_x86_64", ""]))
    # Then the check names it
    version = wheel_info.removesuffix(".dist-info").split("-")[1]
    expected = (
        f"pydantic-core {version}: its wheel (cp311-cp311-manylinux_2_17_x86_64) is not for cp312 manylinux x86_64"
    )
    assert [problem for problem in problems(changed, HANDLER) if problem.startswith("pydantic-core")] == [expected]


def test_an_extension_module_for_another_python_is_named(artifact, tmp_path):
    # Given an extension module built for CPython 3.11 beside the right ones
    changed = changeable_copy(artifact, tmp_path / "changed")
    (changed / "_speedups.cpython-311-x86_64-linux-gnu.so").write_bytes(b"\x7fELF")
    # Then the check names it, and only it
    assert problems(changed, HANDLER) == [
        "_speedups.cpython-311-x86_64-linux-gnu.so: an extension module built for another Python or platform"
    ]


def test_a_removed_requirement_and_a_refused_version_are_named(artifact, tmp_path):
    # Given an artifact without pydantic-core, and whose typing-extensions says it is 3.0
    typing_info = dist_info(artifact, "typing_extensions")
    changed = tmp_path / "changed"
    changeable_copy(artifact, changed, typing_info)
    for entry in changed.glob("pydantic_core*"):
        entry.unlink()
    metadata = changed / typing_info / "METADATA"
    metadata.write_text("".join("Version: 3.0\n" if line.startswith("Version:") else line for line in metadata.open()))
    found = problems(changed, HANDLER)
    # Then the check names pydantic's missing requirement, and the dependants that refuse the version
    assert any(
        problem.startswith("pydantic ") and "pydantic-core==" in problem and "not in the artifact" in problem
        for problem in found
    ), found
    assert any("requires typing-extensions" in problem and "the artifact has 3.0" in problem for problem in found), (
        found
    )


def test_an_import_the_handler_runs_that_finds_nothing_is_named_with_its_place(artifact, tmp_path):
    # Given a module the handler imports (through the package) that imports flask, which the functions do not ship
    changed = changeable_copy(artifact, tmp_path / "changed", "observability")
    logs = changed / "observability" / "logs.py"
    logs.write_text(logs.read_text() + "\nimport flask.json\n")
    line = len(logs.read_text().splitlines())
    # Then the check names the module, the line and the missing name
    missing = "which is not in the artifact, the standard library or the runtime"
    assert problems(changed, HANDLER) == [f"observability/logs.py:{line}: imports flask, {missing}"]


def test_imports_followed_are_those_importing_the_module_runs():
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "import a.b.c\n"
        "from . import sibling\n"
        "from ..parent import name\n"
        "if TYPE_CHECKING:\n"
        "    import only_for_types\n"
        "else:\n"
        "    import at_run_time\n"
        "class Runs:\n"
        "    import in_class_body\n"
        "def later():\n"
        "    import when_called\n"
    )
    # When the imports of pkg/sub/mod.py are listed
    found = {name for name, _ in imported_modules(tree, "pkg.sub.mod", is_package=False)}
    # Then each is absolute, with its parents and each `from` name that may be a submodule; not what never runs
    assert found == {
        "typing",
        "typing.TYPE_CHECKING",
        "a",
        "a.b",
        "a.b.c",
        "pkg",
        "pkg.sub",
        "pkg.sub.sibling",
        "pkg.parent",
        "pkg.parent.name",
        "at_run_time",
        "in_class_body",
    }


def test_the_command_checks_every_function_of_a_built_template(artifact, tmp_path, capsys):
    # Given a build folder holding one function and a built template naming it
    build = tmp_path / "build"
    changeable_copy(artifact.parent, build)
    (build / "template.yaml").write_text(
        "Resources:\n  ApiFunction:\n    Type: AWS::Serverless::Function\n"
        f"    Properties:\n      Handler: {HANDLER}.handler\n      CodeUri: ApiFunction\n"
    )
    # When the command runs; Then it passes, with a line for the function
    assert main([str(build)]) == 0
    assert capsys.readouterr().out.startswith(f"ApiFunction: {HANDLER}, ")
    # And with no built template it says what to run
    with pytest.raises(SystemExit):
        main([str(tmp_path)])
    assert "run `make sam-build` first" in capsys.readouterr().err
