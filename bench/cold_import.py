"""Cold start of the Lambda handlers: `python -X importtime` of each handler module in a fresh process with
the Lambda runtime's environment, and the `sam build` artifact (its size, and its import by python3.12 the
way Lambda imports it: from a read-only directory, with the bytecode the build ships)."""

import importlib.util
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

from local_stack.gateway import lambda_runtime_environment

from .common import LAMBDA_FUNCTION_NAME, REPO_ROOT, SCRATCH_DIR, log, median

IMPORT_RUNS = 7
SAM = REPO_ROOT / ".tools" / "sam" / "bin" / "sam"
# What the python3.12 Lambda runtime provides besides the standard library; the build leaves these out.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six", "urllib3")


def parse_importtime(stderr: str) -> list[tuple[str, int, int]]:
    """(module, self µs, cumulative µs) for each line of -X importtime's report."""
    modules = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative_us, name = line.removeprefix("import time:").split("|")
        modules.append((name.strip(), int(self_us), int(cumulative_us)))
    return modules


def import_report(
    module: str,
    python: str = sys.executable,
    path_prefix: tuple[str, ...] = (),
    extra_env: dict[str, str] | None = None,
    no_bytecode: bool = False,
) -> list[tuple[str, int, int]]:
    """One fresh interpreter importing `module` under the Lambda environment."""
    code = f"import sys; sys.path[:0] = {list(path_prefix)!r}; import {module}"
    env = {**os.environ, **lambda_runtime_environment(LAMBDA_FUNCTION_NAME), **(extra_env or {})}
    for name in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE"):
        env.pop(name, None)
    flags = ["-B"] if no_bytecode else []
    completed = subprocess.run(
        [python, *flags, "-X", "importtime", "-c", code],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"importing {module} failed:\n{completed.stderr[-3000:]}")
    return parse_importtime(completed.stderr)


def import_ms(module: str, runs: int = IMPORT_RUNS, **options) -> float:
    """Median over fresh processes of the total import time (the sum of every module's own time)."""
    import_report(module, **options)  # writes the bytecode caches, unless told not to
    return round(
        median([sum(self_us for _, self_us, _ in import_report(module, **options)) / 1000 for _ in range(runs)]), 1
    )


def python312() -> Path | None:
    found = sorted(Path.home().glob(".pyenv/versions/3.12*/bin/python3.12"))
    if found:
        return found[-1]
    on_path = shutil.which("python3.12")
    return Path(on_path) if on_path else None


def sam_artifact() -> dict:
    """`sam build` as `make sam-build` runs it, into the scratch directory; sizes and cold import of ApiFunction."""
    interpreter = python312()
    if interpreter is None:
        return {"unzipped_bytes": None, "reason": "python3.12 not found (pyenv install 3.12): sam build needs it"}
    if not SAM.exists():
        return {"unzipped_bytes": None, "reason": f"{SAM.relative_to(REPO_ROOT)} missing: run `make tools` first"}
    build_dir, cache_dir = SCRATCH_DIR / "sam-build", SCRATCH_DIR / "sam-cache"
    shutil.rmtree(build_dir, ignore_errors=True)
    log("sam build (ApiFunction and MigrationsFunction; pip downloads the Lambda platform wheels)")
    started = time.perf_counter()
    completed = subprocess.run(
        [
            str(SAM),
            "build",
            "--template-file",
            "template.yaml",
            "--build-dir",
            str(build_dir),
            "--cache-dir",
            str(cache_dir),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "PATH": f"{interpreter.parent}:{os.environ['PATH']}", "SAM_CLI_TELEMETRY": "0"},
        check=False,
    )
    build_seconds = time.perf_counter() - started
    if completed.returncode != 0:
        return {"unzipped_bytes": None, "reason": f"sam build failed: {(completed.stdout + completed.stderr)[-800:]}"}
    artifact = build_dir / "ApiFunction"
    files = [path for path in artifact.rglob("*") if path.is_file()]
    result = {
        "unzipped_bytes": sum(path.stat().st_size for path in files),
        "zipped_bytes": _zipped_size(artifact, files),
        "files": len(files),
        "build_seconds": round(build_seconds, 1),
        "python": str(interpreter),
    }
    result.update(_artifact_import_ms(interpreter, artifact))
    return result


def _zipped_size(root: Path, files: list[Path]) -> int:
    """What Lambda counts against its 50 MB limit: the deployment zip (deflate, as sam deploy makes it)."""
    archive = SCRATCH_DIR / "ApiFunction.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for path in files:
            zipped.write(path, path.relative_to(root))
    size = archive.stat().st_size
    archive.unlink()
    return size


def _artifact_import_ms(interpreter: Path, artifact: Path) -> dict:
    """As Lambda imports the artifact: from a directory it cannot write to (-B: no bytecode written), reading
    the bytecode the build ships (Makefile: compileall, unchecked-hash); and, for comparison, with that
    bytecode out of reach (an empty cache prefix), i.e. compiling every module as a build without it would."""
    runtime = SCRATCH_DIR / "lambda-runtime-packages"
    empty_cache = SCRATCH_DIR / "py312-no-bytecode"
    for directory in (runtime, empty_cache):
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
    for name in RUNTIME_PROVIDED:
        origin = Path(importlib.util.find_spec(name).origin)
        package = origin.parent if origin.name == "__init__.py" else origin
        (runtime / package.name).symlink_to(package)
    options = {"python": str(interpreter), "path_prefix": (str(artifact), str(runtime)), "no_bytecode": True}
    task_root = {"LAMBDA_TASK_ROOT": str(artifact)}
    return {
        "cold_import_ms_py312_as_built": import_ms("handlers.api", extra_env=task_root, **options),
        "cold_import_ms_py312_compiling": import_ms(
            "handlers.api", extra_env={**task_root, "PYTHONPYCACHEPREFIX": str(empty_cache)}, **options
        ),
    }
