"""tools/smoke.py against the local stack (the session's stack of tests/conftest.py: no second
copy): one event in through ingest, read back at the demo partner's webhook sink, MongoDB and
Cloud Storage, as an operator would run it against production URLs."""

from __future__ import annotations

import os

import pytest

from tools import smoke

pytestmark = pytest.mark.integration


@pytest.fixture
def restored_environ():
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def test_smoke_passes_on_the_local_stack(local_stack, restored_environ):
    lines: list[str] = []
    target = smoke.local_target(local_stack.state_dir / "stack.json")
    assert smoke.run(target, timeout=30, show=lines.append) == 0, "\n".join(lines)
    text = "\n".join(lines)
    assert "ok    ingest published eventId=" in text
    for kind, destination in (("webhook", "demo-webhook"), ("mongodb", "demo-mongodb"), ("gcs", "demo-gcs")):
        assert f"ok    {kind} {destination}: delivery log says delivered" in text
    assert "the sink received the event as sent, signature valid" in text
    assert "holds the event as sent" in text and "fpass_demo.events holds _id=" in text


def test_smoke_fails_naming_an_unknown_partner(local_stack, restored_environ):
    lines: list[str] = []
    target = smoke.local_target(local_stack.state_dir / "stack.json")
    target.whitelabel = "no-such-partner"
    assert smoke.run(target, timeout=5, show=lines.append) == 1
    assert "partner 'no-such-partner' is not registered" in "\n".join(lines)
