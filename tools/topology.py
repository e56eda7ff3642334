"""The platform topology (topology.yaml at the repository root): topics and functions.

Terraform reads the same file, so the local stack and production declare the same things.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

TOPOLOGY_FILE = Path(__file__).resolve().parent.parent / "topology.yaml"


@dataclass(frozen=True)
class HoldSubscription:
    """The pull subscription on a dead-letter topic that keeps its messages for replay."""

    name: str
    topic: str
    message_retention_seconds: int
    ack_deadline_seconds: int


@dataclass(frozen=True)
class PushSubscription:
    """The push subscription that invokes a topic-triggered function, with its retry policy and
    dead-letter topic (named ``<function>-dead-letter``)."""

    name: str
    topic: str
    dead_letter_topic: str
    max_delivery_attempts: int
    min_backoff_seconds: int
    max_backoff_seconds: int
    ack_deadline_seconds: int
    dead_letter_hold: HoldSubscription


@dataclass(frozen=True)
class Schedule:
    """An HTTP function invoked on a schedule: by Cloud Scheduler in production (cron, UTC), by
    a timer of the local stack every ``local_interval_seconds``."""

    cron: str
    path: str
    local_interval_seconds: float


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    trigger: str  # "http", or "topic" for a function invoked by a push subscription
    public: bool
    # Requests one instance serves at once: Cloud Run's max_instance_request_concurrency and the
    # THREADS of its functions-framework, in production and in the local stack alike.
    concurrency: int
    env: dict[str, str] = field(default_factory=dict)
    subscription: PushSubscription | None = None
    schedule: Schedule | None = None

    @property
    def signature_type(self) -> str:
        return "http" if self.trigger == "http" else "cloudevent"


@dataclass(frozen=True)
class Topology:
    topics: list[str]
    functions: list[FunctionSpec]

    @property
    def subscriptions(self) -> list[PushSubscription]:
        return [f.subscription for f in self.functions if f.subscription is not None]

    @property
    def dead_letter_topics(self) -> list[str]:
        return [s.dead_letter_topic for s in self.subscriptions]

    @property
    def hold_subscriptions(self) -> list[HoldSubscription]:
        return [s.dead_letter_hold for s in self.subscriptions]

    def function(self, name: str) -> FunctionSpec:
        return next(f for f in self.functions if f.name == name)


def load(path: Path = TOPOLOGY_FILE) -> Topology:
    raw: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    defaults = raw.get("push_defaults", {})
    dead_letters = raw.get("dead_letters", {})
    functions = []
    for name, spec in raw.get("functions", {}).items():
        subscription = None
        if spec["trigger"] == "topic":
            push = {**defaults, **(spec.get("push") or {})}
            dead_letter_topic = f"{name}-dead-letter"
            subscription = PushSubscription(
                name=name,
                topic=spec["topic"],
                dead_letter_topic=dead_letter_topic,
                max_delivery_attempts=int(push["max_delivery_attempts"]),
                min_backoff_seconds=int(push["min_backoff_seconds"]),
                max_backoff_seconds=int(push["max_backoff_seconds"]),
                ack_deadline_seconds=int(push["ack_deadline_seconds"]),
                dead_letter_hold=HoldSubscription(
                    name=dead_letter_topic + dead_letters.get("hold_subscription_suffix", "-hold"),
                    topic=dead_letter_topic,
                    message_retention_seconds=int(dead_letters.get("message_retention_seconds", 604800)),
                    ack_deadline_seconds=int(dead_letters.get("ack_deadline_seconds", 60)),
                ),
            )
        schedule = spec.get("schedule")
        functions.append(FunctionSpec(
            name=name,
            trigger=spec["trigger"],
            public=bool(spec.get("public", False)),
            concurrency=int(spec["concurrency"]),
            env={k: str(v) for k, v in (spec.get("env") or {}).items()},
            subscription=subscription,
            schedule=Schedule(str(schedule["cron"]), str(schedule["path"]),
                              float(schedule["local_interval_seconds"])) if schedule else None,
        ))
    return Topology(topics=list(raw.get("topics", {})), functions=functions)
