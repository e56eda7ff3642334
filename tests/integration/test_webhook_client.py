"""The webhook client on real sockets, loopback only: blocked targets are never connected to, the
connection goes to the one address checked (no second lookup), TLS keeps the partner's host name
(SNI and certificate), redirects are not followed, the timeout holds."""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from shared.forwarding.destinations.webhook_client import PinnedHttpClient


class Recorder(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, status: int = 200, delay: float = 0.0, location: str | None = None):
        self.requests: list[dict] = []
        self.server_names: list[str | None] = []
        self.status, self.delay, self.location = status, delay, location
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def port(self) -> int:
        return self.server_address[1]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Recorder

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.requests.append({"path": self.path, "host": self.headers["Host"], "body": body})
        time.sleep(self.server.delay)
        self.send_response(self.server.status)
        if self.server.location:
            self.send_header("Location", self.server.location)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")


def _serve(server: Recorder) -> Iterator[Recorder]:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def http_server(request) -> Iterator[Recorder]:
    yield from _serve(Recorder(**getattr(request, "param", {})))


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory) -> tuple[Path, Path, Path]:
    """A test CA and a certificate for sink.test signed by it."""
    directory = tmp_path_factory.mktemp("tls")
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fpass test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(1).not_valid_before(now - datetime.timedelta(hours=1))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sink.test")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(2)
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("sink.test")]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = directory / "ca.pem", directory / "cert.pem", directory / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


@pytest.fixture
def https_server(tls_files) -> Iterator[Recorder]:
    _, cert, key = tls_files
    server = Recorder()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda sock, name, ctx: server.server_names.append(name)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    yield from _serve(server)


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A loopback port that only listens: a connection attempt would wait in its backlog."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.setblocking(False)
    yield sock
    sock.close()


def assert_never_connected(sock: socket.socket) -> None:
    with pytest.raises(BlockingIOError):
        sock.accept()


class CountingResolver:
    """Answers like a DNS server that changes its answer after the first lookup (rebinding)."""

    def __init__(self, *answers: list[str]):
        self.answers = list(answers)
        self.calls = 0

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls += 1
        return self.answers[min(self.calls, len(self.answers)) - 1]


def post(client: PinnedHttpClient, url: str, timeout: float = 5.0):
    return client.post(url, b'{"eventId":"e"}', {"Content-Type": "application/json"}, timeout)


def test_loopback_is_refused_without_connecting_unless_allowed(listener):
    port = listener.getsockname()[1]
    client = PinnedHttpClient(allow_loopback=False)
    for url in (f"https://127.0.0.1:{port}/hook", f"https://[::ffff:127.0.0.1]:{port}/hook",
                f"http://127.0.0.1:{port}/hook"):
        outcome = post(client, url)
        assert outcome.status is None and outcome.error.startswith("blocked"), url
    assert_never_connected(listener)


def test_a_name_resolving_to_loopback_is_refused_without_connecting(listener):
    port = listener.getsockname()[1]
    resolver = CountingResolver(["127.0.0.1"])
    outcome = post(PinnedHttpClient(allow_loopback=False, resolver=resolver), f"https://partner.test:{port}/hook")
    assert "partner.test resolves to 127.0.0.1: loopback" in outcome.error
    assert resolver.calls == 1
    assert_never_connected(listener)


def test_localhost_is_checked_by_the_address_it_resolves_to(listener):
    port = listener.getsockname()[1]
    outcome = post(PinnedHttpClient(allow_loopback=False), f"https://localhost:{port}/hook")
    assert "loopback" in outcome.error
    assert_never_connected(listener)


def test_the_connection_goes_to_the_checked_address_with_the_partners_host_name(http_server):
    resolver = CountingResolver(["127.0.0.1"], ["169.254.169.254"])  # a second lookup would get this
    client = PinnedHttpClient(allow_loopback=True, resolver=resolver)
    outcome = post(client, f"http://partner.test:{http_server.port}/hook?x=1")
    assert outcome.status == 200 and outcome.address == "127.0.0.1"
    assert resolver.calls == 1
    assert http_server.requests == [{"path": "/hook?x=1", "host": f"partner.test:{http_server.port}",
                                     "body": b'{"eventId":"e"}'}]


def test_tls_on_the_pinned_address_keeps_sni_and_verifies_the_partners_certificate(https_server, tls_files):
    ca = str(tls_files[0])
    client = PinnedHttpClient(allow_loopback=True, resolver=CountingResolver(["127.0.0.1"]), ca_certs=ca)
    outcome = post(client, f"https://sink.test:{https_server.port}/hook")
    assert outcome.status == 200, outcome
    assert https_server.server_names == ["sink.test"]
    assert https_server.requests[0]["host"] == f"sink.test:{https_server.port}"


def test_tls_fails_when_the_certificate_is_not_the_partners(https_server, tls_files):
    client = PinnedHttpClient(allow_loopback=True, resolver=CountingResolver(["127.0.0.1"]),
                              ca_certs=str(tls_files[0]))
    outcome = post(client, f"https://other.test:{https_server.port}/hook")
    assert outcome.status is None and "TLS" in outcome.error
    assert https_server.requests == []


def test_tls_fails_against_an_untrusted_certificate(https_server):
    client = PinnedHttpClient(allow_loopback=True, resolver=CountingResolver(["127.0.0.1"]))
    outcome = post(client, f"https://sink.test:{https_server.port}/hook")
    assert outcome.status is None and "TLS" in outcome.error


@pytest.mark.parametrize("http_server", [{"status": 302, "location": "/elsewhere"}], indirect=True)
def test_redirects_are_not_followed(http_server):
    outcome = post(PinnedHttpClient(allow_loopback=True), f"http://127.0.0.1:{http_server.port}/hook")
    assert outcome.status == 302
    assert [r["path"] for r in http_server.requests] == ["/hook"]


@pytest.mark.parametrize("http_server", [{"delay": 1.5}], indirect=True)
def test_a_slow_partner_fails_within_the_timeout(http_server):
    started = time.monotonic()
    outcome = post(PinnedHttpClient(allow_loopback=True), f"http://127.0.0.1:{http_server.port}/hook", timeout=0.3)
    assert outcome.status is None and "timeout" in outcome.error
    assert time.monotonic() - started < 2.0


def test_connections_are_reused_across_deliveries(http_server):
    client = PinnedHttpClient(allow_loopback=True)
    for _ in range(3):
        assert post(client, f"http://127.0.0.1:{http_server.port}/hook").status == 200
    pool = next(iter(client._pools.values()))
    assert pool.num_connections == 1
