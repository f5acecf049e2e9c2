"""An HTTP server on 127.0.0.1 (a free port) for what a Lambda function calls over HTTP: GET answers the
documents in `served` by path (a user pool's JWKS), PUT is recorded (a CloudFormation ResponseURL)."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer


class LoopbackHttp:
    def __init__(self, served: dict[str, bytes] | None = None) -> None:
        self.served = served or {}
        self.answers: list[dict] = []
        self.content_types: list[str | None] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                document = recorder.served.get(self.path)
                self.send_response(200 if document is not None else 404)
                self.send_header("Content-Length", str(len(document or b"")))
                self.end_headers()
                self.wfile.write(document or b"")

            def do_PUT(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                recorder.answers.append(json.loads(body))
                recorder.content_types.append(self.headers.get("Content-Type"))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        # A short poll interval: shutdown() waits for it.
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
