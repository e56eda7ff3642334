"""HTTP POST to a partner's webhook, connected to the address the SSRF guard checked.

The host is resolved once, every address checked (shared.forwarding.destinations.webhook_guard), and the connection goes
to that IP while the request keeps the partner's host name: the ``Host`` header and, for https,
the TLS SNI name and certificate check. No second DNS lookup happens between check and connect,
so DNS rebinding cannot swap in an internal address. Redirects are not followed, no retries are
made here (Pub/Sub retries the message), environment proxies are not used, and the whole
exchange is bounded by the destination's timeout.

Connection pools are kept per (scheme, address, port, host) and reused across requests of the
process (keep-alive), with a bounded number of pools.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Mapping
from urllib.parse import urlsplit

import certifi
import urllib3

from shared.forwarding.destinations.webhook_guard import (
    BlockedDestination,
    Resolver,
    is_loopback,
    resolve_checked,
    system_resolver,
)

MAX_POOLS = 256
CONNECTIONS_PER_POOL = 10
# Partners' answers are read only this far; the status code is what counts.
MAX_RESPONSE_BYTES = 64 * 1024


@dataclass(frozen=True)
class HttpOutcome:
    status: int | None
    # None on any 2xx/3xx/4xx/5xx answer; otherwise what went wrong ("blocked: ...", "timeout" ...).
    error: str | None = None
    address: str | None = None


class PinnedHttpClient:
    def __init__(self, *, allow_loopback: bool, resolver: Resolver = system_resolver,
                 ca_certs: str | None = None):
        self._allow_loopback = allow_loopback
        self._resolver = resolver
        self._ca_certs = ca_certs or certifi.where()
        self._pools: OrderedDict[tuple, urllib3.HTTPConnectionPool] = OrderedDict()
        self._lock = threading.Lock()

    def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout_seconds: float) -> HttpOutcome:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        started = time.monotonic()
        if parts.scheme not in ("https", "http") or (parts.scheme == "http" and not self._allow_loopback):
            return HttpOutcome(None, "blocked: only https webhooks are allowed")
        try:
            address = resolve_checked(host, port, allow_loopback=self._allow_loopback, resolver=self._resolver)
        except BlockedDestination as exc:
            return HttpOutcome(None, f"blocked: {exc}")
        if parts.scheme == "http" and not is_loopback(ipaddress.ip_address(address)):
            return HttpOutcome(None, "blocked: plain http is allowed to loopback only", address)
        pool = self._pool(parts.scheme, address, port, host)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        default_port = port == (443 if parts.scheme == "https" else 80)
        host_header = f"[{host}]" if ":" in host else host
        request_headers = {**headers, "Host": host_header if default_port else f"{host_header}:{port}"}
        remaining = max(0.001, timeout_seconds - (time.monotonic() - started))
        try:
            response = pool.urlopen(
                "POST", target, body=body, headers=request_headers, redirect=False, retries=False,
                assert_same_host=False, timeout=urllib3.Timeout(total=remaining), preload_content=False,
            )
        except urllib3.exceptions.TimeoutError:
            return HttpOutcome(None, f"timeout after {timeout_seconds:g} s", address)
        except urllib3.exceptions.SSLError:
            return HttpOutcome(None, "TLS error (certificate or handshake)", address)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            return HttpOutcome(None, f"connection failed ({type(exc).__name__})", address)
        try:
            if len(response.read(MAX_RESPONSE_BYTES)) >= MAX_RESPONSE_BYTES:
                response.close()  # a long answer: drop the connection rather than drain it
            response.release_conn()
        except (urllib3.exceptions.HTTPError, OSError):
            response.close()
        return HttpOutcome(response.status, None, address)

    def _pool(self, scheme: str, address: str, port: int, host: str) -> urllib3.HTTPConnectionPool:
        key = (scheme, address, port, host)
        with self._lock:
            pool = self._pools.get(key)
            if pool is not None:
                self._pools.move_to_end(key)
                return pool
            if scheme == "https":
                pool = urllib3.HTTPSConnectionPool(
                    address, port, maxsize=CONNECTIONS_PER_POOL, block=False, retries=False,
                    cert_reqs="CERT_REQUIRED", ca_certs=self._ca_certs,
                    server_hostname=host, assert_hostname=host,
                )
            else:
                pool = urllib3.HTTPConnectionPool(address, port, maxsize=CONNECTIONS_PER_POOL, block=False,
                                                  retries=False)
            self._pools[key] = pool
            if len(self._pools) > MAX_POOLS:
                _, oldest = self._pools.popitem(last=False)
                oldest.close()
            return pool
