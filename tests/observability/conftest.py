import pytest

from tests.apps import observing
from tests.observability.stack import UdpCollector


@pytest.fixture
def daemon(monkeypatch):
    """A UDP socket where AWS_XRAY_DAEMON_ADDRESS points, receiving what an in-process door sends to X-Ray."""
    udp = UdpCollector()
    observing(xray_daemon_address=f"127.0.0.1:{udp.port}")
    yield udp
    udp.close()
