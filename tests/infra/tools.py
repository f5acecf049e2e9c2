"""The tools of `make tools` (.tools/), run as subprocesses, offline."""

import os
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = REPO_ROOT / "template.yaml"
TOOLS = REPO_ROOT / ".tools"
SAM_PYTHON = TOOLS / "sam" / "bin" / "python"
REGION = "eu-west-1"


def tool(name: str) -> Path:
    """A tool installed by `make tools`; its absence is a failure, never a skip."""
    candidates = [TOOLS / venv / "bin" / name for venv in ("sam", "checkov", "actionlint")]
    for path in candidates:
        if path.exists():
            return path
    pytest.fail(f"{name} is not installed: run `make tools` (make test does it first)")


def tool_env(**extra: str) -> dict[str, str]:
    """No telemetry, no credentials needed, a region for the SAM translator."""
    return {**os.environ, "SAM_CLI_TELEMETRY": "0", "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION, **extra}


def run_tool(arguments: list[str | Path], **extra_env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(argument) for argument in arguments],
        cwd=REPO_ROOT,
        env=tool_env(**extra_env),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
