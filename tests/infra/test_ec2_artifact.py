"""The EC2 door's artifact as docs/deploy.md builds it ("Enabling the EC2 door"): every package of this repository the
Flask door imports, and the runtime dependencies with the `flask` extra, the X-Ray SDK among them: its sampler decides
which of the door's requests are traced. The Lambda functions do not ship it (tests/infra/test_sam_build.py)."""

import subprocess
import sys
import tomllib

from tests.infra.tools import REPO_ROOT

REQUIREMENTS_FILE = "dist/ec2/requirements.txt"


def _recipe() -> list[str]:
    """The shell lines of the recipe, as the document shows them."""
    section = (REPO_ROOT / "docs" / "deploy.md").read_text(encoding="utf-8").split("## 6. Enabling the EC2 door")[1]
    return section.split("```sh", 1)[1].split("```", 1)[0].splitlines()


def test_the_artifact_s_wheels_include_the_flask_extra_and_its_x_ray_sdk(tmp_path):
    # Given the recipe's line that lists the wheels to download, run as written into a scratch folder
    (line,) = [line for line in _recipe() if f"> {REQUIREMENTS_FILE}" in line]
    written = tmp_path / "requirements.txt"
    subprocess.run(line.replace(REQUIREMENTS_FILE, str(written)), shell=True, cwd=REPO_ROOT, check=True, timeout=60)
    requirements = written.read_text().split()
    # Then they are the runtime dependencies and the Flask extra, the X-Ray SDK among them
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    assert set(project["dependencies"]) | set(project["optional-dependencies"]["flask"]) <= set(requirements)
    assert [name for name in requirements if name.startswith("aws-xray-sdk==")]
    # And the Lambda functions' dependencies (what make sam-build installs) do not name it
    assert not [name for name in project["dependencies"] if name.startswith("aws-xray-sdk")]


def test_the_artifact_holds_every_package_the_flask_door_imports():
    # Given the packages the recipe copies
    (line,) = [line for line in _recipe() if line.startswith("cp -R ")]
    copied = set(line.split()[2:-1])
    # When the door's app and gunicorn's settings are loaded, as gunicorn does
    code = (
        "import runpy, sys; runpy.run_path('flask_backend/gunicorn.conf.py'); import flask_backend.app; "
        "print(*{name.split('.')[0] for name in sys.modules})"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    # Then every package of this repository among them is in the artifact, and the migrations readiness expects
    ours = {name for name in loaded if (REPO_ROOT / name / "__init__.py").exists()}
    assert ours <= copied, f"docs/deploy.md does not copy {sorted(ours - copied)}"
    assert "sql" in copied
