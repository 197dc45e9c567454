"""A real local HTTP receiver (threading http.server on 127.0.0.1) scripted per request."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Receiver:
    """``script`` is consumed one answer per request: an HTTP status, or ``"timeout"`` (sleep, then 200).

    When the script is empty every request gets ``default``.
    """

    url: str = ""
    script: list = field(default_factory=list)
    default: object = 200
    sleep_seconds: float = 1.5
    requests: list[dict] = field(default_factory=list)
    answer_json: dict | None = None


def _handler_for(receiver: Receiver):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            receiver.requests.append({"headers": dict(self.headers), "body": body, "path": self.path})
            answer = receiver.script.pop(0) if receiver.script else receiver.default
            if answer == "timeout":
                time.sleep(receiver.sleep_seconds)
                answer = 200
            payload = json.dumps(receiver.answer_json or {"ok": True}).encode()
            try:
                self.send_response(int(answer))
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the sender gave up (timeout): what a slow receiver sees

        def log_message(self, *args) -> None:
            pass

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(state))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_port}/hook"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def allow_loopback(settings):
    settings.CRM_WEBHOOK_ALLOW_LOOPBACK = True
    settings.CRM_WEBHOOK_TIMEOUT_SECONDS = 0.5
    return settings
