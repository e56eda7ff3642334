"""What ``make bench`` runs against: the local stack with production's settings, instances of the
HTTP functions that publish to a topic nobody reads (so their figures are theirs, not the
forwarders'), and the baseline functions of bench/baselines/, each served by functions-framework
with the THREADS of the function it is compared with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from tools.stack import REPO_ROOT, Child, LocalStack, _http_answers

BASELINES = REPO_ROOT / "bench" / "baselines"
# Topic without subscriptions: the bench instances publish here (Pub/Sub confirms, nobody reads).
SINK_TOPIC = "bench-sink"
STATE_DIR = REPO_ROOT / ".stack" / "bench"
# Production's values where the local stack shortens them for development (tools/stack_*.py),
# and production's log level: a bench measures what production runs.
PRODUCTION_ENV = {"LOG_LEVEL": "INFO", "CAMPAIGN_CACHE_SECONDS": "30", "MONITOR_CONFIG_CACHE_SECONDS": "30"}
READY_SECONDS = 60.0


@dataclass(frozen=True)
class Baseline:
    name: str
    signature_type: str
    # The function it stands beside: it runs with that function's THREADS.
    compared_with: str
    # Its folder in bench/baselines/ (raw_publish holds raw_batch_publish too).
    folder: str = ""

    @property
    def source(self) -> Path:
        return BASELINES / (self.folder or self.name) / "main.py"


BASELINE_FUNCTIONS = [
    Baseline("noop", "http", "ingest"),
    Baseline("raw_publish", "http", "ingest"),
    Baseline("raw_batch_publish", "http", "ingest", folder="raw_publish"),
    Baseline("raw_firestore", "http", "beacon"),
    Baseline("raw_mongodb", "cloudevent", "forward_mongodb"),
    Baseline("raw_gcs", "cloudevent", "forward_gcs"),
]


@dataclass
class BenchStack:
    stack: LocalStack
    info: dict
    # name -> URL of the instances the load goes to: "ingest", "beacon", "monitor", baselines.
    urls: dict[str, str] = field(default_factory=dict)

    @classmethod
    def start(cls, log: Callable[[str], None] = print) -> "BenchStack":
        stack = LocalStack(state_dir=STATE_DIR, function_env=dict(PRODUCTION_ENV), log=log)
        info = stack.start()
        bench = cls(stack, info)
        try:
            bench._create_topic(SINK_TOPIC)
            for name, setting in (("ingest", "EVENTS_TOPIC"), ("monitor", "EVENTS_TOPIC"),
                                  ("beacon", "CONVERSIONS_TOPIC")):
                bench.urls[name] = stack.launch_function(name, {setting: SINK_TOPIC}, instance="-bench")
        except BaseException:
            stack.stop()
            raise
        return bench

    def stop(self) -> None:
        self.stack.stop()

    def threads(self, function: str) -> int:
        return self.stack.topology.function(function).concurrency

    def start_baseline(self, baseline: Baseline, env: dict[str, str]) -> str:
        child, url = self.spawn(f"baseline-{baseline.name}", baseline.source, baseline.name,
                                baseline.signature_type, {"THREADS": str(self.threads(baseline.compared_with)),
                                                          **env})
        self.stack._await(child, lambda: _http_answers(url), READY_SECONDS)
        self.urls[baseline.name] = url
        return url

    def spawn(self, child_name: str, source: Path, target: str, signature_type: str,
              env: dict[str, str]) -> tuple[Child, str]:
        return self.stack.spawn_source(child_name, source, target, signature_type, {**PRODUCTION_ENV, **env})

    def child(self, name: str) -> Child:
        return next(c for c in self.stack.children if c.name == name)

    def _create_topic(self, name: str) -> str:
        from google.api_core.exceptions import AlreadyExists
        from google.cloud import pubsub_v1

        path = pubsub_v1.PublisherClient.topic_path(self.stack.project_id, name)
        try:
            pubsub_v1.PublisherClient().create_topic(name=path)
        except AlreadyExists:
            pass
        return path

    def create_push_subscription(self, topic: str, name: str, endpoint: str) -> None:
        """A push subscription as the stack makes them (same ack deadline), without dead-lettering."""
        from google.cloud import pubsub_v1

        subscriber = pubsub_v1.SubscriberClient()
        ack_deadline = self.stack.topology.subscriptions[0].ack_deadline_seconds
        subscriber.create_subscription(request={
            "name": subscriber.subscription_path(self.stack.project_id, name),
            "topic": self._create_topic(topic),
            "push_config": {"push_endpoint": endpoint},
            "ack_deadline_seconds": ack_deadline,
        })
