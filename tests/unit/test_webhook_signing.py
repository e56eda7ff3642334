"""Standard Webhooks signatures, checked by an independent verifier (the standardwebhooks package)."""

from __future__ import annotations

import base64
import time

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from shared.forwarding.destinations.webhook_signing import (
    InvalidSigningSecret,
    new_secret,
    signed_headers,
    signing_key,
)

BODY = '{"eventId":"ca542dca-3649-4ca4-8142-8f1761fa822f","data":{"tags":["Nível ABC"]}}'.encode("utf-8")


def sign(secrets: list[str], body: bytes = BODY, webhook_id: str = "evt-1") -> dict[str, str]:
    return signed_headers([signing_key(s) for s in secrets], webhook_id, int(time.time()), body)


def test_a_signature_verifies_with_the_standard_webhooks_library():
    secret = new_secret()
    headers = sign([secret])
    assert headers["webhook-id"] == "evt-1"
    assert headers["webhook-signature"].startswith("v1,")
    Webhook(secret).verify(BODY, headers, json_parse=False)


def test_a_tampered_body_id_or_timestamp_fails_verification():
    secret = new_secret()
    headers = sign([secret])
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY.replace(b"ABC", b"ABD"), headers, json_parse=False)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY, {**headers, "webhook-id": "evt-2"}, json_parse=False)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY, {**headers, "webhook-timestamp": str(int(headers["webhook-timestamp"]) - 1)},
                               json_parse=False)


def test_another_secret_does_not_verify():
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(BODY, sign([new_secret()]), json_parse=False)


def test_during_a_rotation_each_secret_verifies_on_its_own():
    current, previous = new_secret(), new_secret()
    headers = sign([current, previous])
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(current).verify(BODY, headers, json_parse=False)
    Webhook(previous).verify(BODY, headers, json_parse=False)


@pytest.mark.parametrize("secret", [
    "c2VjcmV0",                                                  # no whsec_ prefix
    "whsec_not*base64",
    "whsec_" + base64.b64encode(b"short").decode(),              # too few bytes
    "whsec_" + base64.b64encode(b"x" * 65).decode(),             # too many bytes
])
def test_unusable_secrets_are_refused_without_echoing_them(secret):
    with pytest.raises(InvalidSigningSecret) as raised:
        signing_key(secret)
    assert secret not in str(raised.value)
