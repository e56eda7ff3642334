"""Offline checks of the platform's monitoring (terraform/monitoring.tf, modules/monitoring).

Nothing can be planned here, but modules/monitoring needs no provider: it is rendered with the
real Terraform (tools/deploy_check.py's scratch copy, with the example settings) and what it
renders is checked:

- each log-based metric, alert policy and the dashboard parses as its API message (the protos of
  Google's client libraries), strictly: a misspelt field or enum value fails;
- every filter names one metric type that exists, a built-in one of BUILTIN_METRICS or a
  log-based metric topology.yaml declares, on that metric's monitored resource, and only labels
  that metric and resource have; delta-only aligners are used on delta metrics only;
- every subscription and function (Cloud Run service) a filter names is one topology.yaml
  declares, and each alert and chart watches all of them: they come from topology.yaml, never
  from a list kept by hand;
- each log-based metric counts log lines the code writes: a module of shared/ logs each of its
  messages with every field its labels are read from, so a renamed log line fails here instead
  of silently emptying a chart or an alert;
- the monitoring resources of terraform/ take their content from module.monitoring, reading only
  fields it gives (so what is checked is what is deployed, field for field), and no other .tf
  file holds a metric filter of its own.

Each check returns a list of problems; tools/infra_checks.py runs them with the others.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import yaml
from google.cloud.logging_v2.types import LogMetric
from google.cloud.monitoring_dashboard_v1.types import Dashboard
from google.cloud.monitoring_v3.types import AlertPolicy
from google.protobuf import json_format
from google.protobuf.message import Message

from tools import deploy_check
from tools import topology as local_topology

# -- what exists in Cloud Monitoring -------------------------------------------------------------

PUBSUB_METRICS = "https://cloud.google.com/monitoring/api/metrics_gcp_p_z#gcp-pubsub"
RUN_METRICS = "https://cloud.google.com/monitoring/api/metrics_gcp_p_z#gcp-run"
RESOURCES = "https://cloud.google.com/monitoring/api/resources"


@dataclass(frozen=True)
class MetricType:
    resource: str  # the monitored resource type its time series belong to
    kind: str  # GAUGE, DELTA or CUMULATIVE
    labels: frozenset[str]  # metric labels
    source: str  # where Google lists it


# Built-in metrics the platform's alerts and charts may use, as Google's metric list gives them.
# Cloud Functions (2nd gen) run as Cloud Run services, so their requests are Cloud Run's.
BUILTIN_METRICS = {
    # GAUGE INT64: messages not yet acknowledged by the subscription's subscribers.
    "pubsub.googleapis.com/subscription/num_undelivered_messages": MetricType(
        "pubsub_subscription", "GAUGE", frozenset(), PUBSUB_METRICS),
    # GAUGE INT64, seconds: age of the oldest message not yet acknowledged.
    "pubsub.googleapis.com/subscription/oldest_unacked_message_age": MetricType(
        "pubsub_subscription", "GAUGE", frozenset(), PUBSUB_METRICS),
    # DELTA INT64: requests reaching the revision.
    "run.googleapis.com/request_count": MetricType(
        "cloud_run_revision", "DELTA", frozenset({"response_code", "response_code_class", "route"}), RUN_METRICS),
    # DELTA DISTRIBUTION, ms: latency of the requests reaching the revision.
    "run.googleapis.com/request_latencies": MetricType(
        "cloud_run_revision", "DELTA", frozenset({"response_code", "response_code_class", "route"}), RUN_METRICS),
}
# Labels of the monitored resources above (RESOURCES).
RESOURCE_LABELS = {
    "cloud_run_revision": frozenset({"project_id", "service_name", "revision_name", "location", "configuration_name"}),
    "pubsub_subscription": frozenset({"project_id", "subscription_id"}),
}
# Log-based metrics are counters written against the log entry's resource: the functions' lines
# come from Cloud Run (log_id run.googleapis.com/stdout).
LOG_METRIC_PREFIX = "logging.googleapis.com/user/"
LOG_METRIC_RESOURCE = "cloud_run_revision"
# Aligners that turn a delta or cumulative series into per-period values: meaningless on a gauge.
DELTA_ALIGNERS = {"ALIGN_DELTA", "ALIGN_RATE"}

# -- what the platform must watch (issue "Operations") --------------------------------------------

# Each alert policy, and what it must watch: every target of that kind topology.yaml declares.
ALERT_TARGETS = {
    "dead_letters": "hold_subscriptions",
    "push_backlog_age": "push_subscriptions",
    "error_ratio": "services",
    "latency": "services",
    "ingest_failed_dependency": "ingest",
}
# Metrics the dashboard charts: events in, deliveries, backlog and age per subscription, latency.
DASHBOARD_METRICS = {
    LOG_METRIC_PREFIX + "fpass/events_published",
    LOG_METRIC_PREFIX + "fpass/deliveries",
    "pubsub.googleapis.com/subscription/num_undelivered_messages",
    "pubsub.googleapis.com/subscription/oldest_unacked_message_age",
    "run.googleapis.com/request_latencies",
}
MONITORING_RESOURCES = {
    "google_logging_metric": ("for_each", "module.monitoring.log_metrics"),
    "google_monitoring_alert_policy": ("for_each", "module.monitoring.alert_policies"),
    "google_monitoring_dashboard": ("dashboard_json", "module.monitoring.dashboard_json"),
}
# A placeholder project: the checks render the module with the example settings.
RENDER_PROJECT = "offline-check"
EXAMPLE_SETTINGS = Path("terraform/environments/example.tfvars")


@dataclass(frozen=True)
class Targets:
    """What topology.yaml declares that monitoring may name."""

    push_subscriptions: frozenset[str]
    hold_subscriptions: frozenset[str]
    services: frozenset[str]
    ingest: frozenset[str]
    log_metrics: dict[str, dict[str, Any]]

    @property
    def subscriptions(self) -> frozenset[str]:
        return self.push_subscriptions | self.hold_subscriptions

    def metric(self, metric_type: str) -> MetricType | None:
        if metric_type in BUILTIN_METRICS:
            return BUILTIN_METRICS[metric_type]
        name = metric_type.removeprefix(LOG_METRIC_PREFIX + "fpass/")
        if metric_type.startswith(LOG_METRIC_PREFIX) and name in self.log_metrics:
            return MetricType(LOG_METRIC_RESOURCE, "DELTA", frozenset(self.log_metrics[name].get("labels") or {}),
                              "topology.yaml monitoring.log_metrics")
        return None


def service_name(function: str) -> str:
    """A function's Cloud Run service name (modules/function names it so)."""
    return function.replace("_", "-")


def targets(root: Path) -> Targets:
    shape = local_topology.load(root / "topology.yaml")
    raw = yaml.safe_load((root / "topology.yaml").read_text(encoding="utf-8"))
    return Targets(
        push_subscriptions=frozenset(s.name for s in shape.subscriptions),
        hold_subscriptions=frozenset(h.name for h in shape.hold_subscriptions),
        services=frozenset(service_name(f.name) for f in shape.functions),
        ingest=frozenset(service_name(f.name) for f in shape.functions if f.name == "ingest"),
        log_metrics=dict(((raw.get("monitoring") or {}).get("log_metrics")) or {}),
    )


# -- rendering modules/monitoring -------------------------------------------------------------------

class RenderError(Exception):
    pass


def _tree_digest(root: Path) -> str:
    files = [root / "topology.yaml", root / EXAMPLE_SETTINGS, *sorted((root / "terraform").rglob("*.tf"))]
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


@functools.lru_cache(maxsize=8)
def _render(root: Path, digest: str) -> dict[str, Any]:
    inputs = deploy_check.plan_inputs(root, RENDER_PROJECT, root / EXAMPLE_SETTINGS)
    ok, message, values = deploy_check.terraform_validate(root, inputs)
    if not ok:
        raise RenderError(message)
    return values["monitoring"]


def render(root: Path) -> dict[str, Any]:
    """modules/monitoring's outputs with the example settings, by the real Terraform, offline
    (once per content of the files it reads)."""
    return _render(root.resolve(), _tree_digest(root))


# -- reading Cloud Monitoring filters -----------------------------------------------------------------

_TERM = re.compile(r'^(?P<key>[a-z_]+(?:\.[a-z_]+)*)\s*=\s*(?:(?P<one>"(?:[^"\\]|\\.)*")|one_of\((?P<many>.*)\))$')
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')


def filter_terms(text: str) -> dict[str, set[str]]:
    """A Cloud Monitoring filter of `key = "value"` and `key = one_of("a", ...)` terms joined by AND,
    as {key: values}; label keys are given as `resource.label.x`/`metric.label.x`. Anything else
    raises ValueError (the checks cannot vouch for what they cannot read)."""
    terms: dict[str, set[str]] = {}
    for raw in text.split(" AND "):
        match = _TERM.match(raw.strip())
        if not match:
            raise ValueError(f"cannot read filter term {raw.strip()!r}")
        values = [match["one"]] if match["one"] else _QUOTED.findall(match["many"])
        key = re.sub(r"^(resource|metric)\.labels\.", r"\1.label.", match["key"])
        terms.setdefault(key, set()).update(json.loads(v) for v in values)
    return terms


@dataclass(frozen=True)
class Query:
    where: str
    filter: str
    aggregations: list[dict[str, Any]]


def _policy_queries(policy_id: str, policy: dict[str, Any]) -> Iterator[Query]:
    for condition in policy.get("conditions") or []:
        threshold = condition.get("condition_threshold") or {}
        where = f"alert {policy_id}, condition {condition.get('display_name')!r}"
        yield Query(where, threshold.get("filter") or "", threshold.get("aggregations") or [])
        if threshold.get("denominator_filter"):
            yield Query(where + " (denominator)", threshold["denominator_filter"],
                        threshold.get("denominator_aggregations") or [])


def _dashboard_queries(node: Any, where: str = "dashboard") -> Iterator[Query]:
    if isinstance(node, dict):
        where = f"dashboard chart {node['title']!r}" if isinstance(node.get("title"), str) else where
        if isinstance(node.get("filter"), str):
            aggregation = node.get("aggregation") or {}
            yield Query(where, node["filter"], [{
                "alignment_period": aggregation.get("alignmentPeriod"),
                "per_series_aligner": aggregation.get("perSeriesAligner"),
                "cross_series_reducer": aggregation.get("crossSeriesReducer"),
                "group_by_fields": aggregation.get("groupByFields") or [],
            }] if aggregation else [])
        for value in node.values():
            yield from _dashboard_queries(value, where)
    elif isinstance(node, list):
        for value in node:
            yield from _dashboard_queries(value, where)


def _query_problems(query: Query, known: Targets) -> tuple[list[str], str | None, dict[str, set[str]]]:
    """What is wrong with one query, its metric type, and what it names."""
    try:
        terms = filter_terms(query.filter)
    except ValueError as exc:
        return [f"{query.where}: {exc}"], None, _named({})
    problems = []
    types = terms.get("metric.type") or set()
    if len(types) != 1:
        return [f"{query.where}: a filter names exactly one metric type, this one {sorted(types)}"], None, _named(terms)
    [metric_type] = types
    metric = known.metric(metric_type)
    if metric is None:
        return [f"{query.where}: metric type {metric_type!r} is neither a built-in metric of "
                f"tools/monitoring_checks.py BUILTIN_METRICS nor a log-based metric of topology.yaml"], None, _named(terms)
    if terms.get("resource.type") != {metric.resource}:
        problems.append(f"{query.where}: {metric_type} is on resource type {metric.resource}, "
                        f"the filter says {sorted(terms.get('resource.type') or [])}")
    fields = set(terms) | {f for a in query.aggregations for f in a.get("group_by_fields") or []}
    for field in sorted(fields - {"metric.type", "resource.type"}):
        scope, _, label = field.partition(".label.")
        allowed = metric.labels if scope == "metric" else RESOURCE_LABELS.get(metric.resource, frozenset())
        if label not in allowed:
            problems.append(f"{query.where}: {metric_type} has no label {field}")
    for aggregation in query.aggregations:
        if aggregation.get("per_series_aligner") in DELTA_ALIGNERS and metric.kind == "GAUGE":
            problems.append(f"{query.where}: {aggregation['per_series_aligner']} on the gauge {metric_type}")
    named = _named(terms)
    for kind, allowed_names in (("subscriptions", known.subscriptions), ("services", known.services)):
        for name in sorted(named[kind] - allowed_names):
            problems.append(f"{query.where}: names {kind[:-1]} {name!r}, which topology.yaml does not declare")
    return problems, metric_type, named


def _named(terms: dict[str, set[str]]) -> dict[str, set[str]]:
    return {"subscriptions": terms.get("resource.label.subscription_id", set()),
            "services": terms.get("resource.label.service_name", set())}


def _parse(message: Message, document: dict[str, Any], what: str) -> list[str]:
    try:
        json_format.ParseDict(_without_empty(document), message, ignore_unknown_fields=False)
    except json_format.ParseError as exc:
        return [f"{what} is not a valid {message.DESCRIPTOR.name}: {exc}".splitlines()[0]]
    return []


def _without_empty(node: Any) -> Any:
    """Terraform's nulls and empty lists stand for fields left out."""
    if isinstance(node, dict):
        return {k: _without_empty(v) for k, v in node.items() if v is not None and v != []}
    if isinstance(node, list):
        return [_without_empty(v) for v in node]
    return node


# -- the checks ---------------------------------------------------------------------------------

def rendered_problems(rendered: dict[str, Any], known: Targets) -> list[str]:
    """Every problem of modules/monitoring's rendered outputs against topology.yaml."""
    problems: list[str] = []
    policies: dict[str, Any] = rendered.get("alert_policies") or {}
    metrics: dict[str, Any] = rendered.get("log_metrics") or {}
    problems += _log_metric_problems(metrics, known)
    for policy_id, policy in sorted(policies.items()):
        problems += _parse(AlertPolicy.pb(AlertPolicy()), policy, f"alert {policy_id}")
    for policy_id, target in ALERT_TARGETS.items():
        if policy_id not in policies:
            problems.append(f"no alert policy {policy_id!r}")
            continue
        watched: set[str] = set()
        for query in _policy_queries(policy_id, policies[policy_id]):
            found, _, named = _query_problems(query, known)
            problems += found
            watched |= named["subscriptions"] | named["services"]
        expected = getattr(known, target)
        for name in sorted(expected - watched):
            problems.append(f"alert {policy_id} does not watch {name!r}, which topology.yaml declares")
        for name in sorted(watched - expected):
            problems.append(f"alert {policy_id} watches {name!r}, which is not one of its {target.replace('_', ' ')}")
    try:
        dashboard = json.loads(rendered.get("dashboard_json") or "{}")
    except ValueError as exc:
        return problems + [f"the dashboard is not JSON: {exc}"]
    problems += _parse(Dashboard.pb(Dashboard()), dashboard, "the dashboard")
    charted: set[str] = set()
    for query in _dashboard_queries(dashboard):
        found, metric_type, named = _query_problems(query, known)
        problems += found
        if metric_type is None:
            continue
        charted.add(metric_type)
        resource = known.metric(metric_type).resource
        expected, kind = ((known.subscriptions, "subscriptions") if resource == "pubsub_subscription"
                          else (known.services, "services"))
        for name in sorted(expected - named[kind]):
            problems.append(f"{query.where} does not show {name!r}, which topology.yaml declares")
    for metric_type in sorted(DASHBOARD_METRICS - charted):
        problems.append(f"the dashboard has no chart of {metric_type}")
    return problems


def _log_metric_problems(metrics: dict[str, Any], known: Targets) -> list[str]:
    problems = []
    for name in sorted(set(known.log_metrics) ^ set(metrics)):
        problems.append(f"log-based metric {name!r} is declared in {'topology.yaml' if name in known.log_metrics else 'Terraform'} only")
    for name, metric in sorted(metrics.items()):
        declared = known.log_metrics.get(name)
        if declared is None:
            continue
        what = f"log-based metric {name}"
        problems += _parse(LogMetric.pb(LogMetric()), metric, what)
        if metric.get("name") != f"fpass/{name}":
            problems.append(f"{what} is named {metric.get('name')!r}, not fpass/{name}")
        counted = re.search(r'jsonPayload\.message=\((.*?)\)(?: AND |$)', metric.get("filter") or "")
        messages = {json.loads(m) for m in _QUOTED.findall(counted.group(1))} if counted else set()
        if messages != set(declared.get("messages") or []):
            problems.append(f"{what} counts the messages {sorted(messages)}, topology.yaml declares "
                            f"{sorted(declared.get('messages') or [])}")
        services = re.search(r'resource\.labels\.service_name=\((.*?)\)', metric.get("filter") or "")
        named = {json.loads(s) for s in _QUOTED.findall(services.group(1))} if services else set()
        if named != known.services:
            problems.append(f"{what} reads the log lines of {sorted(named)}, not of every function of "
                            f"topology.yaml ({sorted(known.services)})")
        labels = declared.get("labels") or {}
        extractors = metric.get("label_extractors") or {}
        descriptor = {label["key"] for label in (metric.get("metric_descriptor") or {}).get("labels") or []}
        if set(extractors) != set(labels) or descriptor != set(labels):
            problems.append(f"{what} has labels {sorted(descriptor)} extracted as {sorted(extractors)}, "
                            f"topology.yaml declares {sorted(labels)}")
        for label, field in sorted(labels.items()):
            if extractors.get(label) != f"EXTRACT(jsonPayload.{field})":
                problems.append(f"{what} label {label} is not read from the line's {field}")
    return problems


def check_monitoring_names_real_metrics_and_topology(root: Path) -> list[str]:
    try:
        rendered = render(root)
    except RenderError as exc:
        return [f"Terraform cannot render modules/monitoring with {EXAMPLE_SETTINGS}: {exc}"]
    return rendered_problems(rendered, targets(root))


# -- the log lines the metrics count --------------------------------------------------------------

LOG_METHODS = {"debug", "info", "warning", "error", "exception", "critical", "log"}
# Every line has its message (Cloud Logging keeps it as jsonPayload.message).
ALWAYS_LOGGED = {"message"}


def logged_lines(root: Path) -> dict[str, list[set[str]]]:
    """Each message logged in shared/ with a literal, and the fields of each call that logs it
    (the keys of its `extra`: a dict literal, a dict built in the same function, or one returned
    by a helper of the same module, such as a method building the fields every line shares)."""
    found: dict[str, list[set[str]]] = {}
    for path in sorted((root / "shared").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        helpers = {f.name: f for f in functions}
        for function in functions:
            for call in ast.walk(function):
                if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                        and call.func.attr in LOG_METHODS and call.args):
                    continue
                fields = _extra_fields(call, function, helpers)
                # logger.log(level, message, ...) names its level first.
                message_arg = call.args[1] if call.func.attr == "log" and len(call.args) > 1 else call.args[0]
                for message in _literal_messages(message_arg):
                    found.setdefault(message, []).append(fields)
    return found


def _literal_messages(node: ast.expr) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _literal_messages(node.body) + _literal_messages(node.orelse)
    return []


Helpers = dict[str, "ast.FunctionDef | ast.AsyncFunctionDef"]


def _dict_keys(node: ast.expr | None, function: ast.AST, helpers: Helpers) -> set[str]:
    if isinstance(node, ast.Dict):
        keys = {k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}
        # {**fields, ...}: the keys of the unpacked dict too.
        return keys.union(*(_dict_keys(v, function, helpers) for k, v in zip(node.keys, node.values) if k is None))
    if isinstance(node, ast.Name):
        built = [n.value for n in ast.walk(function) if isinstance(n, ast.Assign)
                 and any(isinstance(t, ast.Name) and t.id == node.id for t in n.targets)]
        return set().union(*(_dict_keys(value, function, helpers) for value in built))
    if isinstance(node, ast.Call):
        named = {k.arg for k in node.keywords if k.arg}
        if isinstance(node.func, ast.Name) and node.func.id == "dict":
            return named
        helper_name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
        helper = helpers.get(helper_name or "")
        if helper is not None and helper is not function:
            returned = [n.value for n in ast.walk(helper) if isinstance(n, ast.Return) and n.value is not None]
            return named.union(*(_dict_keys(value, helper, helpers) for value in returned)) - {
                a.arg for a in (helper.args.kwarg,) if a is not None}
    return set()


def _extra_fields(call: ast.Call, function: ast.AST, helpers: Helpers) -> set[str]:
    extra = next((k.value for k in call.keywords if k.arg == "extra"), None)
    return _dict_keys(extra, function, helpers)


def check_log_metrics_count_lines_the_code_writes(root: Path) -> list[str]:
    lines = logged_lines(root)
    problems = []
    for name, metric in sorted(targets(root).log_metrics.items()):
        fields = set((metric.get("labels") or {}).values()) - ALWAYS_LOGGED
        for message in metric.get("messages") or []:
            if message not in lines:
                problems.append(f"log-based metric {name} counts {message!r}, which no module of shared/ logs")
            elif not any(fields <= logged for logged in lines[message]):
                problems.append(f"log-based metric {name} reads {sorted(fields)} from {message!r}, but shared/ "
                                f"logs it with {sorted(set().union(*lines[message]))} only")
    return problems


# -- the resources -----------------------------------------------------------------------------------

def check_monitoring_resources_come_from_the_module(root: Path) -> list[str]:
    """What the checks above vouch for is what is deployed: each monitoring resource takes its
    content from module.monitoring, and no other file writes a metric filter of its own."""
    from tools.infra_checks import terraform_blocks  # infra_checks imports this module

    problems = []
    module_dir = root / "terraform" / "modules" / "monitoring"
    for block in terraform_blocks(root):
        if block.kind in MONITORING_RESOURCES:
            argument, source = MONITORING_RESOURCES[block.kind]
            if source not in str(block.body.get(argument, "")):
                problems.append(f"{block.kind}.{block.name} ({block.file.relative_to(root)}) does not take its "
                                f"{argument} from {source}")
    for path in sorted((root / "terraform").rglob("*.tf")):
        if module_dir not in path.parents and "metric.type" in path.read_text(encoding="utf-8"):
            problems.append(f"{path.relative_to(root)} writes a metric filter outside modules/monitoring")
    if problems:
        return problems
    try:
        rendered = render(root)
    except RenderError:
        return []  # check_monitoring_names_real_metrics_and_topology reports it
    outputs = {"google_logging_metric": "log_metrics", "google_monitoring_alert_policy": "alert_policies"}
    for block in terraform_blocks(root):
        if block.kind in outputs:
            items = list((rendered.get(outputs[block.kind]) or {}).values())
            problems += _reference_problems(f"{block.kind}.{block.name}", block.body, items)
    return problems


_REFERENCE = re.compile(r"\b(\w+)\.value((?:\.\w+)+)")


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def _dynamic_sources(node: Any, found: dict[str, str]) -> dict[str, str]:
    """Each dynamic block's iterator and the reference it iterates over (`conditions` ->
    `each.value.conditions`)."""
    if isinstance(node, dict):
        for block in node.get("dynamic", []) if isinstance(node.get("dynamic"), list) else []:
            for iterator, body in block.items():
                match = _REFERENCE.search(str(body.get("for_each", "")))
                if match:
                    found[iterator] = match.group(0)
        for value in node.values():
            _dynamic_sources(value, found)
    elif isinstance(node, list):
        for value in node:
            _dynamic_sources(value, found)
    return found


def _resolve(values: list[Any], path: str) -> tuple[list[Any], bool]:
    """The values at `path` (".a.b") of each value; False if one of them lacks it."""
    for key in path.strip(".").split("."):
        if not all(isinstance(v, dict) and key in v for v in values):
            return [], False
        values = [v[key] for v in values]
    return values, True


def _reference_problems(block_name: str, body: dict[str, Any], items: list[Any]) -> list[str]:
    """Every `X.value.path` the block reads exists in what it iterates over (module.monitoring's
    rendered values), so the checked values are the deployed ones, field for field."""
    sources = _dynamic_sources(body, {})
    problems = []

    def elements(iterator: str) -> list[Any]:
        if iterator == "each":
            return items
        parent, _, path = sources[iterator].partition(".value")
        collections, _ = _resolve(elements(parent), path)
        # `for_each = x[*]` over an object or null (Terraform's splat) iterates it once or never.
        return [element for collection in collections
                for element in ([collection] if isinstance(collection, dict) else collection or [])]

    for text in _strings(body):
        for iterator, path in _REFERENCE.findall(text):
            if iterator != "each" and iterator not in sources:
                continue
            if not _resolve(elements(iterator), path)[1]:
                problems.append(f"{block_name} reads {iterator}.value{path}, which module.monitoring does not give")
    return problems


CHECKS = [
    check_monitoring_names_real_metrics_and_topology,
    check_log_metrics_count_lines_the_code_writes,
    check_monitoring_resources_come_from_the_module,
]
