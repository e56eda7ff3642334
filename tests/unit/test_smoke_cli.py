"""tools/smoke.py's production path without Google Cloud: required flags, and the two calls to
ingest (refused without an ID token, then published with it) against a loopback stand-in for
Cloud Run in front of ingest."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tools import smoke


def test_production_needs_url_key_partner_and_project(monkeypatch, capsys):
    for name in ("FPASS_INGEST_URL", "FPASS_API_KEY", "FPASS_SMOKE_WHITELABEL", "GOOGLE_CLOUD_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    assert smoke.main([]) == 2
    assert "missing --ingest-url, --key, --whitelabel, GOOGLE_CLOUD_PROJECT" in capsys.readouterr().err


class FakeCloudRun(BaseHTTPRequestHandler):
    """403 in HTML without an ID token (as Cloud Run's IAM check answers), else ingest's answer."""
    seen: list[dict[str, str]] = []

    def do_POST(self):  # noqa: N802 (http.server's naming)
        self.rfile.read(int(self.headers["Content-Length"]))
        FakeCloudRun.seen.append(dict(self.headers))
        if self.headers.get("X-Serverless-Authorization") != "Bearer id-token":
            body, status, kind = b"<html>Error: Forbidden</html>", 403, "text/html"
        else:
            body = json.dumps({"name": "user.interaction:response",
                               "payload": {"eventId": "e", "messageId": "m"}}).encode()
            status, kind = 200, "application/json"
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def cloud_run():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeCloudRun)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FakeCloudRun.seen.clear()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_ingest_is_called_without_then_with_the_id_token(cloud_run):
    lines: list[str] = []
    report = smoke.Report(lines.append)
    target = smoke.Target(cloud_run, "fpk_key", "smoke-partner", id_token="id-token")
    assert smoke.post_event(target, b"{}", report) is True
    assert report.failures == []
    assert lines[0].startswith("ok    ingest refuses a call without an ID token (HTTP 403")
    assert lines[1] == "ok    ingest published eventId=e messageId=m"
    # The API key stays in Authorization both times; the ID token goes in X-Serverless-Authorization.
    assert [h.get("Authorization") for h in FakeCloudRun.seen] == ["Bearer fpk_key", "Bearer fpk_key"]


def test_a_wrong_id_token_fails_the_smoke_test(cloud_run):
    report = smoke.Report(lambda _: None)
    assert smoke.post_event(smoke.Target(cloud_run, "fpk_key", "p", id_token="other"), b"{}", report) is False
    assert report.failures[-1].startswith("ingest answered HTTP 403")
