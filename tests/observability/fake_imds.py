"""A stand-in for the EC2 instance metadata service on 127.0.0.1, speaking IMDSv2 only: a PUT for a token, then
GETs that must carry it. Every request is recorded, so a test can tell whether (and how often) it was asked."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKEN = "AQAEAFakeImdsToken=="
INSTANCE_ID = "i-0b5a4678fc325bg98"
AVAILABILITY_ZONE = "eu-west-1b"
IDENTITY = {
    "instanceId": INSTANCE_ID,
    "availabilityZone": AVAILABILITY_ZONE,
    "region": "eu-west-1",
    "instanceType": "t3.micro",
    "imageId": "ami-0123456789abcdef0",
    "accountId": "123456789012",
}


class FakeImds:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []  # (method, path)
        imds = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                imds.requests.append(("PUT", self.path))
                if self.path == "/latest/api/token" and self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
                    self._reply(200, TOKEN.encode())
                else:
                    self._reply(400, b"")

            def do_GET(self) -> None:
                imds.requests.append(("GET", self.path))
                if self.headers.get("X-aws-ec2-metadata-token") != TOKEN:
                    self._reply(401, b"")  # IMDSv2 only: no token, no answer
                elif self.path == "/latest/dynamic/instance-identity/document":
                    self._reply(200, json.dumps(IDENTITY).encode())
                else:
                    self._reply(404, b"")

            def _reply(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}/"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
