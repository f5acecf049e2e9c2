import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A data directory for an embedded server of the test's own. Under the git-ignored .data/ rather than
    tmp_path: pytest resets its /tmp/pytest-of-<user> root to 0700 whenever a session starts, which would lock
    the unprivileged server account out of data directories in use by a concurrent test run."""
    (REPO_ROOT / ".data").mkdir(exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="test-embedded-postgres-", dir=REPO_ROOT / ".data"))
    yield scratch / "pgdata"
    shutil.rmtree(scratch)
