"""Secret references: partner configuration names its secrets, it never holds them.

A reference is either a Secret Manager secret version (production),
``projects/PROJECT/secrets/NAME/versions/VERSION`` (VERSION a number or ``latest``), or
``env:NAME``, an environment variable of the function (the local stack sets them). A resolved
value is reused for a while per process, which bounds how long a rotation takes to be seen.
Secret Manager's client is imported only when such a reference is first resolved, so the local
stack never needs it.
"""

from __future__ import annotations

import os
import re
import threading
import time
from typing import Callable

from shared.platform.ttl_cache import TtlCache

ENV_PREFIX = "env:"
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SECRET_VERSION = re.compile(r"^projects/[^/\s]+/secrets/[A-Za-z0-9_-]{1,255}/versions/(latest|[1-9][0-9]*)$")


class SecretUnavailable(Exception):
    """A reference could not be resolved; the message names the reference, never a value."""


def ref_problem(ref: object) -> str | None:
    """What is wrong with a secret reference, or None. Never echoes the value: a mistaken
    reference may be the secret itself."""
    if not isinstance(ref, str) or not ref:
        return "must be a secret reference (env:NAME or projects/P/secrets/S/versions/V)"
    if ref.startswith(ENV_PREFIX):
        return None if _ENV_NAME.match(ref[len(ENV_PREFIX):]) else "env: must be followed by a variable name"
    if _SECRET_VERSION.match(ref):
        return None
    return ("must be a secret reference (env:NAME or projects/P/secrets/S/versions/V), "
            "not a secret value: store the value in Secret Manager")


class SecretResolver:
    def __init__(self, cache_seconds: float, clock: Callable[[], float] = time.monotonic,
                 environ: dict[str, str] | os._Environ = os.environ):
        self._environ = environ
        self._cache: TtlCache[str] = TtlCache(cache_seconds, clock)
        self._lock = threading.Lock()
        self._secret_manager = None

    def resolve(self, ref: str) -> str:
        problem = ref_problem(ref)
        if problem:
            raise SecretUnavailable(f"invalid secret reference: {problem}")
        return self._cache.get(ref, lambda: self._read(ref))

    def _read(self, ref: str) -> str:
        if ref.startswith(ENV_PREFIX):
            value = self._environ.get(ref[len(ENV_PREFIX):])
            if not value:
                raise SecretUnavailable(f"secret {ref} is not set in this function's environment")
            return value
        try:
            response = self._client().access_secret_version(name=ref, timeout=10)
        except Exception as exc:  # any failure to read a secret is a failed delivery, retried
            raise SecretUnavailable(f"secret {ref} could not be read ({type(exc).__name__})") from None
        return response.payload.data.decode("utf-8")

    def _client(self):
        with self._lock:
            if self._secret_manager is None:
                from google.cloud import secretmanager

                self._secret_manager = secretmanager.SecretManagerServiceClient()
            return self._secret_manager
