"""Ingest driven by the Events Protocol's official client libraries, as a platform app uses them.

The Python client (PyPI ``events-protocol``, in its own venv ``.venv-compat``) and, where Node is
installed, the JS client (npm ``@guiabolsobr/events-protocol``, in ``tools/compat``) each send a
success and every error ingest gives that the client can send. The app must receive the answer as
the typed event it is, with its code: these clients read nothing from a non-2xx answer.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from typing import Any, Iterator

import pytest

from tests.conftest import REPO_ROOT, fresh_event
from tests.integration.ingest_support import reader  # noqa: F401 (a fixture)
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.integration

COMPAT_PYTHON = REPO_ROOT / ".venv-compat" / "bin" / "python"
COMPAT_TOOLS = REPO_ROOT / "tools" / "compat"
WRONG_KEY = "fpk_000000000000_wrong"


@pytest.fixture(scope="module")
def pubsub_silent_ingest(local_stack, stack: dict[str, Any]) -> Iterator[str]:
    """An ingest instance whose Pub/Sub never answers: every publish is PUBSUB_UNAVAILABLE."""
    host, port = stack["emulators"]["pubsub"].split(":")
    proxy = TcpProxy(host, int(port))
    proxy.blackhole()
    instance = "-compat-pubsub-silent"
    yield local_stack.launch_function("ingest", {"PUBSUB_EMULATOR_HOST": proxy.address}, instance=instance)
    local_stack.stop_child(f"function-ingest{instance}")
    proxy.close()


@pytest.fixture(scope="module")
def broken_ingest(local_stack, stack: dict[str, Any]) -> Iterator[str]:
    """An ingest instance whose Firestore address is the Pub/Sub emulator's, a gRPC server without
    Firestore's API: the key lookup fails in a way ingest does not expect, so it answers INTERNAL."""
    instance = "-compat-broken"
    yield local_stack.launch_function("ingest", {"FIRESTORE_EMULATOR_HOST": stack["emulators"]["pubsub"]},
                                      instance=instance)
    local_stack.stop_child(f"function-ingest{instance}")


def run_client(command: list[str], calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Python's json writes the NaN of the INVALID_JSON case as NaN, which the Python driver reads back.
    result = subprocess.run(command, input=json.dumps(calls), capture_output=True, text=True, timeout=180,
                            cwd=REPO_ROOT, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def with_nan(event: dict[str, Any]) -> dict[str, Any]:
    event["data"]["mediaStart"] = float("nan")
    return event


def without_event_date(event: dict[str, Any]) -> dict[str, Any]:
    del event["eventDate"]
    return event


def with_unknown_type(event: dict[str, Any]) -> dict[str, Any]:
    event["data"]["type"] = "rewind"
    return event


def test_the_python_client_receives_every_answer_as_its_typed_event(stack, pubsub_silent_ingest, broken_ingest,
                                                                     reader):
    assert COMPAT_PYTHON.exists(), "the Python client's venv .venv-compat is missing: `make test` installs it"
    url = stack["functions"]["ingest"] + "/v1/events"
    published = fresh_event()
    teleported = fresh_event()
    teleported["eventType"] = "user.teleported"

    def call(event: dict[str, Any], *, to: str = url, version: int = 1, token: str | None = stack["dev_api_key"]):
        return {"url": to, "name": event["eventType"], "version": version, "payload": event,
                "flowId": str(uuid.uuid4()), "auth": {"token": token} if token else {}}

    # (kind answered, code, what the app sends)
    cases = [
        ("response", None, call(published)),
        ("badRequest", "MISSING_FIELDS", call(without_event_date(fresh_event()))),
        ("badRequest", "INVALID_FIELDS", call(with_unknown_type(fresh_event()))),
        ("badRequest", "INVALID_JSON", call(with_nan(fresh_event()))),
        ("badRequest", "UNKNOWN_EVENT_TYPE", call(teleported)),
        ("badRequest", "UNSUPPORTED_VERSION", call(fresh_event(), version=2)),
        ("unauthorized", "MISSING_TOKENS", call(fresh_event(), token=None)),
        ("unauthorized", "INVALID_TOKEN", call(fresh_event(), token=WRONG_KEY)),
        ("notFound", "UNKNOWN_ROUTE", call(fresh_event(), to=stack["functions"]["ingest"] + "/v2/events")),
        ("error", "PUBSUB_UNAVAILABLE", call(fresh_event(), to=pubsub_silent_ingest + "/v1/events")),
        ("error", "INTERNAL", call(fresh_event(), to=broken_ingest + "/v1/events")),
    ]
    calls = [sent for _, _, sent in cases]

    received = run_client([str(COMPAT_PYTHON), str(COMPAT_TOOLS / "python_client.py")], calls)

    # What the app sees: the event's name (or the exception raised instead), ResponseEvent.is_success,
    # is_error and error_type, and the code.
    assert [(r.get("raised") or r["name"], r.get("isSuccess"), r.get("isError"), r.get("errorType"), r.get("payload", {}).get("code"))
            for r in received] == [
        (f"{sent['name']}:{kind}", kind == "response", kind != "response", None if kind == "response" else kind, code)
        for kind, code, sent in cases]
    assert [r["flowId"] for r in received] == [sent["flowId"] for sent in calls]
    assert received[1]["payload"]["parameters"] == {"fields": ["eventDate"]}
    assert received[9]["payload"]["parameters"] == {"eventId": calls[9]["payload"]["eventId"], "retryable": True}
    message = reader.pull_until({published["eventId"]})[published["eventId"]]
    assert received[0]["payload"] == {"eventId": published["eventId"], "messageId": message.message_id}


def test_the_js_client_receives_every_answer_as_its_typed_event(stack, pubsub_silent_ingest, broken_ingest, reader):
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed: the JS Events Protocol client (@guiabolsobr/events-protocol) "
                    "was not exercised against ingest")
    assert (COMPAT_TOOLS / "node_modules" / "@guiabolsobr" / "events-protocol").is_dir(), \
        "the JS client is not installed in tools/compat: `make test` installs it (npm ci)"
    ingest = stack["functions"]["ingest"]
    published = fresh_event()

    def call(event: dict[str, Any], *, name: str = "user.interaction:v1", hostname: str = ingest + "/v1",
             token: str = stack["dev_api_key"]):
        # The client posts to `${hostname}/events/`, so an ingest URL + "/v1" is its hostname.
        return {"hostname": hostname, "event": name, "payload": event, "token": token}

    # (kind answered, code, what the app sends). The client cannot send MISSING_TOKENS (it refuses
    # to send an authorised event without a token) nor INVALID_JSON (JSON.stringify writes NaN as null).
    cases = [
        ("response", None, call(published)),
        ("badRequest", "MISSING_FIELDS", call(without_event_date(fresh_event()))),
        ("badRequest", "INVALID_FIELDS", call(with_unknown_type(fresh_event()))),
        ("badRequest", "UNSUPPORTED_VERSION", call(fresh_event(), name="user.interaction:v2")),
        ("unauthorized", "INVALID_TOKEN", call(fresh_event(), token=WRONG_KEY)),
        ("notFound", "UNKNOWN_ROUTE", call(fresh_event(), hostname=ingest)),
        ("error", "PUBSUB_UNAVAILABLE", call(fresh_event(), hostname=pubsub_silent_ingest + "/v1")),
        ("error", "INTERNAL", call(fresh_event(), hostname=broken_ingest + "/v1")),
    ]

    received = run_client([node, str(COMPAT_TOOLS / "js_client.js")], [sent for _, _, sent in cases])

    # The name's "v1" is sent as the string "1", which ingest reads as version 1.
    assert {r["sent"]["version"] for r in received} == {"1", "2"}
    # What the app sees: the event it resolves with, or the EventError it throws, whose code is the kind.
    assert [(r["outcome"], r.get("name") or r.get("code"), (r.get("payload") or {}).get("code")) for r in received] == [
        ("event", "user.interaction:response", None) if kind == "response" else ("thrown", kind, code)
        for kind, code, _ in cases]
    assert [r["flowId"] for r in received] == [r["sent"]["flowId"] for r in received]
    message = reader.pull_until({published["eventId"]})[published["eventId"]]
    assert received[0]["payload"] == {"eventId": published["eventId"], "messageId": message.message_id}
