"""Checks a built function (`.aws-sam/build/<Function>`) against the runtime it will run in, without running it:
Lambda's python3.12 on x86_64, whose Amazon Linux 2023 has glibc 2.34, and whose SDK (boto3 and its dependencies) the
build leaves out (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html,
https://docs.aws.amazon.com/lambda/latest/dg/lambda-python.html).

Every distribution's wheel is one that CPython 3.12 on manylinux x86_64 installs, every extension module is built for
it, every requirement of every distribution (its markers evaluated for that runtime) is in the artifact at a version
it accepts or is the runtime's, and every module our packages import is in the artifact, the standard library or the
runtime. These need no python3.12, so `make sam-build` runs them on every build; where a python3.12 exists,
tests/infra/test_sam_build.py also imports each artifact in it, which finds what no static check can (an error at
import, a missing data file).

    python -m infra.lambda_artifact .aws-sam/build     prints one line per function; exit 1 when one fails
"""

import argparse
import ast
import sys
from collections.abc import Iterator
from importlib.metadata import Distribution, distributions
from pathlib import Path

from packaging.requirements import Requirement
from packaging.tags import Tag, compatible_tags, cpython_tags, parse_tag
from packaging.utils import canonicalize_name

from infra.render import load_template

PYTHON_VERSION = (3, 12)
# Amazon Linux 2023's glibc is 2.34: manylinux wheels up to 2_34 run there, under both spellings of the older ones.
PLATFORMS = [
    *(f"manylinux_2_{minor}_x86_64" for minor in range(34, 4, -1)),
    "manylinux2014_x86_64",
    "manylinux2010_x86_64",
    "manylinux1_x86_64",
]
LAMBDA_TAGS = frozenset(
    [
        *cpython_tags(PYTHON_VERSION, abis=["cp312"], platforms=PLATFORMS),
        *compatible_tags(PYTHON_VERSION, interpreter="cp312", platforms=PLATFORMS),
    ]
)
EXTENSION_SUFFIXES = (".cpython-312-x86_64-linux-gnu.so", ".abi3.so")
# The SDK the python3.12 runtime provides: distribution, and the module it installs.
RUNTIME_PROVIDED = {
    "boto3": "boto3",
    "botocore": "botocore",
    "s3transfer": "s3transfer",
    "jmespath": "jmespath",
    "python-dateutil": "dateutil",
    "six": "six",
    "urllib3": "urllib3",
}
# Markers of requirements, as Lambda's python3.12 on x86_64 evaluates them.
MARKER_ENVIRONMENT = {
    "implementation_name": "cpython",
    "implementation_version": "3.12.0",
    "os_name": "posix",
    "platform_machine": "x86_64",
    "platform_python_implementation": "CPython",
    "platform_system": "Linux",
    "python_full_version": "3.12.0",
    "python_version": "3.12",
    "sys_platform": "linux",
    "extra": "",
}
# Standard modules this interpreter may have that python3.12 does not (What's New in Python 3.12, "Removed").
REMOVED_IN_PYTHON_312 = frozenset({"asynchat", "asyncore", "distutils", "imp", "smtpd"})


def installed(artifact: Path) -> dict[str, Distribution]:
    return {canonicalize_name(dist.metadata["Name"]): dist for dist in distributions(path=[str(artifact)])}


def wheel_tags(dists: dict[str, Distribution]) -> Iterator[str]:
    for name, dist in sorted(dists.items()):
        wheel = dist.read_text("WHEEL") or ""
        tags: set[Tag] = set()
        for line in wheel.splitlines():
            if line.startswith("Tag:"):
                tags |= parse_tag(line.removeprefix("Tag:").strip())
        if not tags & LAMBDA_TAGS:
            listed = ", ".join(sorted(map(str, tags)))
            yield f"{name} {dist.version}: its wheel ({listed}) is not for cp312 manylinux x86_64"


def extension_modules(artifact: Path) -> Iterator[str]:
    for path in sorted(artifact.rglob("*.so")):
        built_for_a_python = ".cpython-" in path.name or ".abi3." in path.name
        if built_for_a_python and not path.name.endswith(EXTENSION_SUFFIXES):
            yield f"{path.relative_to(artifact)}: an extension module built for another Python or platform"


def requirements(dists: dict[str, Distribution]) -> Iterator[str]:
    for name, dist in sorted(dists.items()):
        for text in dist.requires or []:
            requirement = Requirement(text)
            if requirement.marker and not requirement.marker.evaluate(MARKER_ENVIRONMENT):
                continue
            needed = canonicalize_name(requirement.name)
            if needed in RUNTIME_PROVIDED:
                continue
            if needed not in dists:
                yield f"{name} {dist.version} requires {requirement}, which is not in the artifact"
            elif not requirement.specifier.contains(dists[needed].version, prereleases=True):
                yield f"{name} {dist.version} requires {requirement}, the artifact has {dists[needed].version}"


def top_level_names(artifact: Path) -> set[str]:
    """What `import <name>` finds in the artifact: packages (namespace ones too), modules, extension modules."""
    return {path.name.split(".")[0] for path in artifact.iterdir() if path.is_dir() or path.suffix in {".py", ".so"}}


def our_packages(artifact: Path, dists: dict[str, Distribution]) -> set[str]:
    """The artifact's packages that no installed distribution owns: the ones the build copied from this repository."""
    owned = {Path(str(file)).parts[0] for dist in dists.values() for file in dist.files or ()}
    return {
        path.name
        for path in artifact.iterdir()
        if path.is_dir() and path.name not in owned and (path / "__init__.py").exists()
    }


def source(artifact: Path, module: str) -> Path | None:
    path = artifact.joinpath(*module.split("."))
    for candidate in (path / "__init__.py", path.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def imported_modules(tree: ast.AST, module: str, is_package: bool) -> Iterator[tuple[str, int]]:
    """Every module that importing this module imports, absolute, with its parents (importing `a.b` runs `a` first)
    and each name `from` imports that may be a submodule. Not what `if TYPE_CHECKING:` blocks and function bodies
    import: importing the module does not run them (nor does the build test's import)."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                yield from imported_modules(ast.Module([child], []), module, is_package)
            continue
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            parts = package.split(".")
            anchor = parts[: len(parts) - node.level + 1] if node.level else []
            base = ".".join([*anchor, *filter(None, [node.module])])
            names = [base, *(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")]
        for name in names:
            parts = name.split(".")
            yield from ((".".join(parts[:end]), node.lineno) for end in range(1, len(parts) + 1))
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            yield from imported_modules(node, module, is_package)


def imports(artifact: Path, dists: dict[str, Distribution], handler_module: str) -> Iterator[str]:
    """Follows the imports of our modules from the handler's, as importing it would, and names each import that
    finds nothing: not in the artifact, the standard library or the runtime."""
    ours = our_packages(artifact, dists)
    available = (
        top_level_names(artifact)
        | (set(sys.stdlib_module_names) - REMOVED_IN_PYTHON_312)
        | set(RUNTIME_PROVIDED.values())
    )
    pending, seen = [handler_module], {handler_module}
    if source(artifact, handler_module) is None:
        yield f"{handler_module}: the handler's module is not in the artifact"
    while pending:
        module = pending.pop()
        path = source(artifact, module)
        if path is None:
            continue  # a name `from` imports from a module, not a submodule
        tree = ast.parse(path.read_bytes(), str(path))
        for name, line in imported_modules(tree, module, path.name == "__init__.py"):
            top = name.split(".")[0]
            if top not in available:
                yield (
                    f"{path.relative_to(artifact)}:{line}: imports {top}, which is not in the artifact, the standard "
                    "library or the runtime"
                )
            elif top in ours and name not in seen:
                seen.add(name)
                pending.append(name)


def handler_modules(template: Path) -> dict[str, str]:
    """Each function of a template (the repository's or the built one), and the module of its handler."""
    resources = load_template(template)["Resources"]
    return {
        name: resource["Properties"]["Handler"].rpartition(".")[0]
        for name, resource in resources.items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def problems(artifact: Path, handler_module: str) -> list[str]:
    dists = installed(artifact)
    return [
        *wheel_tags(dists),
        *extension_modules(artifact),
        *requirements(dists),
        *sorted(set(imports(artifact, dists, handler_module))),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("build_dir", type=Path, help="sam build's directory: one folder per function")
    build_dir = parser.parse_args(argv).build_dir
    built_template = build_dir / "template.yaml"
    if not built_template.is_file():
        parser.error(f"{build_dir} holds no built template: run `make sam-build` first")
    failed = False
    for function, handler_module in handler_modules(built_template).items():
        found = problems(build_dir / function, handler_module)
        failed |= bool(found)
        verdict = f"{len(found)} problem(s)" if found else "fits Lambda's python3.12 on x86_64"
        print(f"{function}: {handler_module}, {len(installed(build_dir / function))} distributions, {verdict}")
        for problem in found:
            print(f"  {problem}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
