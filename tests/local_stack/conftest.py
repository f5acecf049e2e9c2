import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from local_stack.gateway import LambdaFunction, LocalGateway

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


@pytest.fixture
def serve_gateway(request: pytest.FixtureRequest) -> Callable[..., LocalGateway]:
    """Local gateways in front of a function, each on a free loopback port, stopped after the test."""

    def serve(function: LambdaFunction, **options: Any) -> LocalGateway:
        gateway = LocalGateway(function, port=0, **options)
        gateway.start_in_thread()
        request.addfinalizer(gateway.shutdown)
        return gateway

    return serve
