"""Shared fixtures. The ``stack`` fixture starts the real local stack (the same code as
``make up``) once per test session, in a temporary directory, with short retry backoffs."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from tools.stack import LocalStack

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = REPO_ROOT / "examples" / "events"

# Settings of the functions under test: key revocation visible within 1 s, Pub/Sub deadline 2 s,
# partner configuration changes visible to the forwarders within 1 s; forwarding retries after
# 0.5-2 s, 5 attempts, a destination's circuit open 1 s after 3 failures, a lost attempt re-driven
# after 15 s.
TEST_FUNCTION_ENV = {"API_KEY_CACHE_SECONDS": "1", "PUBLISH_TIMEOUT_SECONDS": "2", "PARTNER_CACHE_SECONDS": "1",
                     "FORWARD_MIN_BACKOFF_SECONDS": "0.5", "FORWARD_MAX_BACKOFF_SECONDS": "2",
                     "FORWARD_MAX_ATTEMPTS": "5", "FORWARD_CIRCUIT_OPEN_SECONDS": "1",
                     "FORWARD_REDRIVE_LEASE_SECONDS": "15"}
TEST_PUSH_OVERRIDES = {"min_backoff_seconds": 1, "max_backoff_seconds": 2}


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    stack = LocalStack(state_dir=tmp_path_factory.mktemp("stack"), function_env=TEST_FUNCTION_ENV,
                       push_overrides=TEST_PUSH_OVERRIDES, log=lambda _: None)
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def stack(local_stack: LocalStack) -> dict[str, Any]:
    """The content of stack.json of the running test stack."""
    return json.loads((local_stack.state_dir / "stack.json").read_text())


def spec_example(kind: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / f"user.interaction.{kind}.json").read_text())


def fresh_event(kind: str = "view") -> dict[str, Any]:
    event = spec_example(kind)
    event["eventId"] = str(uuid.uuid4())
    return event


def value_paths(document: Any, prefix: tuple = ()) -> Iterator[tuple]:
    """The path (keys and indexes) of every value within ``document``, for tests that mutate one."""
    if isinstance(document, dict):
        for key, value in document.items():
            yield prefix + (key,)
            yield from value_paths(value, prefix + (key,))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            yield prefix + (index,)
            yield from value_paths(value, prefix + (index,))


def poll(condition: Callable[[], Any], timeout: float = 20.0, interval: float = 0.1, what: str = "condition") -> Any:
    """Wait for ``condition()`` to return something truthy, and return it; fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)
