"""What every phase of the bench shares: paths, progress lines, loopback ports, the UDP sink, the machine."""

import os
import platform
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = REPO_ROOT / "bench"
# Both can be moved (BENCH_RESULTS_DIR, BENCH_SCRATCH_DIR) to try a change without touching the committed results.
RESULTS_DIR = Path(os.environ.get("BENCH_RESULTS_DIR", BENCH_DIR / "results"))
# Scratch space (database, logs, sam build): git-ignored, rebuilt by every run.
SCRATCH_DIR = Path(os.environ.get("BENCH_SCRATCH_DIR", REPO_ROOT / ".data" / "bench"))
LAMBDA_FUNCTION_NAME = "student-records-api"
LOOPBACK = "127.0.0.1"


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, what: str, deadline_s: float = 60) -> None:
    deadline = time.monotonic() + deadline_s
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with status {process.returncode} before listening on {port}")
        try:
            with socket.create_connection((LOOPBACK, port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not listen on {port} within {deadline_s} s") from None
            time.sleep(0.05)


class UdpSink:
    """Where X-Ray segments go during the bench: reads every datagram and discards it, counting them,
    so senders never see a full buffer or an ICMP refusal."""

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind((LOOPBACK, 0))
        self.port = self._socket.getsockname()[1]
        self.datagrams = 0
        self._thread = threading.Thread(target=self._drain, name="xray-sink", daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def _drain(self) -> None:
        while True:
            try:
                self._socket.recv(65536)
            except OSError:
                return
            self.datagrams += 1

    def close(self) -> None:
        self._socket.close()


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def machine_description(postgres_version: str) -> str:
    memory_kb = next(
        int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")
    )
    return (
        f"{os.cpu_count()} cores, {cpu_model()}, {memory_kb / 2**20:.0f} GiB, "
        f"Python {platform.python_version()}, PostgreSQL {postgres_version}, {platform.system()} {platform.release()}"
    )
