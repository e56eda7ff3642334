"""The local stack's webhook sink: a partner's endpoint that records and verifies what it receives.

    WEBHOOK_SINK_SECRET=whsec_... python -m tools.webhook_sink --port PORT

- ``POST /hooks/<name>``: a delivery. Recorded with its headers and body, its Standard Webhooks
  signature checked with the ``standardwebhooks`` package (an independent verifier) against
  WEBHOOK_SINK_SECRET, and answered 200, or with a failure while one is scheduled for the path.
- ``GET /deliveries[?path=/hooks/<name>][&webhookId=ID]``: what was received, as JSON
  ``{"deliveries": [{path, receivedAt, headers, body, webhookId, signatureValid, answeredStatus}]}``.
- ``POST /control/fail?path=/hooks/<name>&times=N[&status=503][&delay=SECONDS]``: answer the next
  N deliveries to that path with ``status``, each after ``delay`` seconds (a partner that fails,
  or hangs past the forwarder's timeout); ``times=0`` ends it (tests of retries, dead letters and
  isolation).
- ``GET /health``: ``ok``.

Local development and tests only: it binds 127.0.0.1 and keeps the last 10,000 deliveries.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from collections import deque
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

MAX_KEPT = 10_000
MAX_BODY_BYTES = 10 * 1024 * 1024


class SinkState:
    def __init__(self, secret: str | None):
        self.verifier = Webhook(secret) if secret else None
        self.deliveries: deque[dict] = deque(maxlen=MAX_KEPT)
        self.failures: dict[str, list[float]] = {}  # path -> [remaining, status, delay seconds]
        self.lock = threading.Lock()

    def receive(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, float]:
        """The status to answer and how long to wait before answering."""
        valid, problem = self.verify(headers, body)
        with self.lock:
            failure = self.failures.get(path)
            status, delay = 200, 0.0
            if failure and failure[0] > 0:
                failure[0] -= 1
                status, delay = int(failure[1]), failure[2]
            self.deliveries.append({
                "path": path,
                "receivedAt": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
                "headers": headers,
                "body": body.decode("utf-8", errors="replace"),
                "webhookId": headers.get("webhook-id"),
                "signatureValid": valid,
                "signatureProblem": problem,
                "answeredStatus": status,
            })
        return status, delay

    def verify(self, headers: dict[str, str], body: bytes) -> tuple[bool, str | None]:
        if self.verifier is None:
            return False, "the sink has no WEBHOOK_SINK_SECRET"
        try:
            self.verifier.verify(body, headers, json_parse=False)
            return True, None
        except (WebhookVerificationError, ValueError, UnicodeDecodeError) as exc:
            return False, str(exc)


def make_handler(state: SinkState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # TCP_NODELAY, as partners' servers set it: the headers and the body are two writes, and
        # on a kept-alive connection Nagle held the body until the client's delayed ACK (40 ms).
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: object) -> None:  # one line per request, no bodies
            print(f"{self.command} {self.path} -> {args[1] if len(args) > 1 else ''}", flush=True)

        def _answer(self, status: int, payload: object) -> None:
            data = json.dumps(payload).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            if url.path == "/health":
                return self._answer(200, "ok")
            if url.path == "/deliveries":
                with state.lock:
                    found = [d for d in state.deliveries
                             if d["path"] == query.get("path", d["path"])
                             and d["webhookId"] == query.get("webhookId", d["webhookId"])]
                return self._answer(200, {"deliveries": found})
            self._answer(404, {"error": "unknown path"})

        def do_POST(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                return self._answer(413, {"error": "too large"})
            body = self.rfile.read(length)
            if url.path.startswith("/hooks/"):
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, delay = state.receive(url.path, headers, body)
                time.sleep(delay)
                return self._answer(status, {"received": status == 200})
            if url.path == "/control/fail":
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                path, times, status = query.get("path", ""), int(query.get("times", 1)), int(query.get("status", 503))
                delay = float(query.get("delay", 0))
                with state.lock:
                    state.failures[path] = [times, status, delay]
                return self._answer(200, {"path": path, "failing": times, "status": status, "delay": delay})
            self._answer(404, {"error": "unknown path"})

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    state = SinkState(os.environ.get("WEBHOOK_SINK_SECRET"))
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(state))
    server.daemon_threads = True
    print(f"webhook sink listening on http://127.0.0.1:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
