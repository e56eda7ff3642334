"""Reading a request body without trusting the client about its size."""

from __future__ import annotations

import flask


def read_bounded(request: flask.Request, limit: int) -> tuple[bytes, bool]:
    """The body, read at most one byte past ``limit``: enough to know it is too large without
    buffering it. Returns (body, too_large)."""
    body = request.stream.read(limit + 1)
    return body, len(body) > limit or (request.content_length or 0) > limit
