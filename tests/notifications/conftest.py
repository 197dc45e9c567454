"""A real HTTP server on 127.0.0.1 standing in for the WeChat Work / DingTalk group robot."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class RobotServer:
    """Records every POST; answers from ``script`` (HTTP status codes), then 200 errcode 0."""

    def __init__(self) -> None:
        self.posts: list[dict] = []
        self.script: list[int] = []
        self.delay = 0.0
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                with server.lock:
                    server.posts.append({"path": self.path, "json": body, "at": time.monotonic()})
                    status = server.script.pop(0) if server.script else 200
                if server.delay:
                    time.sleep(server.delay)
                answer = {"errcode": 0, "errmsg": "ok"} if status == 200 else {"errcode": 500}
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/cgi-bin/webhook/send?key=test"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def wait_for(self, count: int, timeout: float = 20) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.posts) < count:
            time.sleep(0.05)
        return self.posts


@pytest.fixture
def robot_server(settings):
    settings.CRM_ROBOT_ALLOWED_HOSTS = ["127.0.0.1"]
    server = RobotServer()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


@pytest.fixture
def fast_retries(settings):
    settings.CRM_NOTIFY_RETRY_BASE_SECONDS = 0.3
    settings.CRM_NOTIFY_MAX_ATTEMPTS = 4
    return settings
