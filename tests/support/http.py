"""Requests for calling an HttpApi in process, as the HTTP layer would build them."""

from __future__ import annotations

from typing import Mapping

from werkzeug.datastructures import Headers

from shared.platform.http import Request


def http_request(method: str, path: str, body: bytes = b"", headers: Mapping[str, str] | None = None,
                 args: Mapping[str, str] | None = None, too_large: bool = False,
                 remote_addr: str = "127.0.0.1") -> Request:
    return Request(method=method, path=path, headers=Headers(dict(headers or {})), args=dict(args or {}),
                   remote_addr=remote_addr, body=body, too_large=too_large)
