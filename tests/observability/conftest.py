import pytest

from tests.observability.stack import UdpCollector


@pytest.fixture
def daemon(monkeypatch):
    """A UDP socket where AWS_XRAY_DAEMON_ADDRESS points, receiving what an in-process door sends to X-Ray."""
    udp = UdpCollector()
    monkeypatch.setenv("AWS_XRAY_DAEMON_ADDRESS", f"127.0.0.1:{udp.port}")
    yield udp
    udp.close()
