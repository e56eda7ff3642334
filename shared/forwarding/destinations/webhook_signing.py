"""Standard Webhooks signatures (https://www.standardwebhooks.com), standard library only.

``webhook-signature`` is ``v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}">``
keyed with the base64-decoded part of a ``whsec_...`` secret. While a secret rotates the partner
holds several: one signature per secret, separated by spaces, and any one of them verifies. The
body is signed as the exact bytes sent, so partners verify it with any Standard Webhooks library.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Sequence

SECRET_PREFIX = "whsec_"
# The spec asks for 24 to 64 bytes of key material.
MIN_KEY_BYTES = 24
MAX_KEY_BYTES = 64


class InvalidSigningSecret(ValueError):
    """The secret is not a usable ``whsec_`` secret; the message never contains the secret."""


def signing_key(secret: str) -> bytes:
    if not isinstance(secret, str) or not secret.startswith(SECRET_PREFIX):
        raise InvalidSigningSecret(f"a signing secret must start with {SECRET_PREFIX!r}")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX):], validate=True)
    except (binascii.Error, ValueError):
        raise InvalidSigningSecret("a signing secret must be whsec_ followed by base64") from None
    if not MIN_KEY_BYTES <= len(key) <= MAX_KEY_BYTES:
        raise InvalidSigningSecret(f"a signing secret must hold {MIN_KEY_BYTES} to {MAX_KEY_BYTES} bytes")
    return key


def new_secret() -> str:
    import secrets

    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def signature(key: bytes, webhook_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{webhook_id}.{timestamp}.".encode("utf-8") + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode("ascii")


def signature_header(keys: Sequence[bytes], webhook_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: one ``v1`` signature per key, the current key first."""
    if not keys:
        raise InvalidSigningSecret("at least one signing secret is needed")
    return " ".join(signature(key, webhook_id, timestamp, body) for key in keys)


def signed_headers(keys: Sequence[bytes], webhook_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(keys, webhook_id, timestamp, body),
    }
