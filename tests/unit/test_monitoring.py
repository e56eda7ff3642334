"""The platform's monitoring (terraform/monitoring.tf, modules/monitoring, topology.yaml
monitoring.log_metrics): what modules/monitoring renders with the real Terraform, offline, and the
checks of tools/monitoring_checks.py, on the real tree and on broken copies of it."""

from __future__ import annotations

import copy
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from tools import monitoring_checks

ROOT = monitoring_checks.deploy_check.REPO_ROOT
SERVICES = ["attribution", "beacon", "forward-gcs", "forward-mongodb", "forward-redrive", "forward-webhook", "ingest",
            "monitor", "reports"]
PUSH_SUBSCRIPTIONS = ["attribution", "forward_gcs", "forward_mongodb", "forward_webhook"]


@pytest.fixture(scope="module")
def rendered() -> dict[str, Any]:
    return monitoring_checks.render(ROOT)


def conditions(rendered: dict[str, Any], policy: str) -> list[dict[str, Any]]:
    return [c["condition_threshold"] for c in rendered["alert_policies"][policy]["conditions"]]


def dashboard_filters(rendered: dict[str, Any]) -> dict[str, list[str]]:
    charts = {}
    for tile in json.loads(rendered["dashboard_json"])["mosaicLayout"]["tiles"]:
        if "xyChart" in tile["widget"]:
            charts[tile["widget"]["title"]] = re.findall(r'"filter": "((?:[^"\\]|\\.)*)"', json.dumps(tile))
    return charts


# -- what is rendered ----------------------------------------------------------------------------

def test_the_tree_passes_every_monitoring_check():
    assert [p for check in monitoring_checks.CHECKS for p in check(ROOT)] == []


def test_each_log_metric_counts_its_lines_with_the_exact_filter(rendered):
    services = " OR ".join(f'"{s}"' for s in SERVICES)
    metric = rendered["log_metrics"]["deliveries"]
    assert metric["name"] == "fpass/deliveries"
    assert metric["filter"] == (f'log_id("run.googleapis.com/stdout") AND resource.type="cloud_run_revision" AND '
                                f'resource.labels.service_name=({services}) AND '
                                f'jsonPayload.message=("delivered" OR "delivery failed; retry scheduled" OR '
                                f'"delivery failed; Pub/Sub retries it (too large to keep for the re-driver)")')
    assert metric["label_extractors"] == {"kind": "EXTRACT(jsonPayload.kind)", "partner": "EXTRACT(jsonPayload.partner)",
                                          "result": "EXTRACT(jsonPayload.message)"}
    assert sorted(rendered["log_metrics"]) == ["answers", "dead_letters", "deliveries", "events_published",
                                               "publish_failures", "refusals"]


def test_alerts_watch_what_topology_declares_with_the_default_thresholds(rendered):
    [dead] = conditions(rendered, "dead_letters")
    assert dead["threshold_value"] == 0
    assert dead["filter"].endswith('resource.labels.subscription_id=one_of("attribution-dead-letter-hold", '
                                   '"forward_gcs-dead-letter-hold", "forward_mongodb-dead-letter-hold", '
                                   '"forward_webhook-dead-letter-hold")')
    [age] = conditions(rendered, "push_backlog_age")
    assert age["threshold_value"] == 900
    assert "oldest_unacked_message_age" in age["filter"]
    assert monitoring_checks.filter_terms(age["filter"])["resource.label.subscription_id"] == set(PUSH_SUBSCRIPTIONS)
    [ratio] = conditions(rendered, "error_ratio")
    assert ratio["threshold_value"] == 0.05 and 'metric.labels.response_code_class="5xx"' in ratio["filter"]
    assert "response_code_class" not in ratio["denominator_filter"]
    latency = {c["threshold_value"]: monitoring_checks.filter_terms(c["filter"])["resource.label.service_name"]
               for c in conditions(rendered, "latency")}
    assert latency == {5000: {"attribution", "beacon", "ingest", "monitor", "reports"},
                       15000: {"forward-gcs", "forward-mongodb"}, 35000: {"forward-webhook"},
                       115000: {"forward-redrive"}}
    [failed] = conditions(rendered, "ingest_failed_dependency")
    assert failed["filter"] == ('metric.type="logging.googleapis.com/user/fpass/publish_failures" AND '
                                'resource.type="cloud_run_revision" AND resource.labels.service_name="ingest"')
    assert failed["threshold_value"] == 5  # 1 a minute over the 5-minute window


def test_the_dashboard_charts_what_the_issue_asks_for_over_every_subscription_and_function(rendered):
    charts = dashboard_filters(rendered)
    backlog = next(f for title, f in charts.items() if title.startswith("Backlog"))
    assert monitoring_checks.filter_terms(json.loads(f'"{backlog[0]}"'))["resource.label.subscription_id"] == (
        set(PUSH_SUBSCRIPTIONS) | {f"{s}-dead-letter-hold" for s in PUSH_SUBSCRIPTIONS})
    titles = " | ".join(charts)
    for wanted in ("Events in", "by destination kind and result", "by partner", "Backlog", "Oldest unacknowledged",
                   "p99 request latency"):
        assert wanted in titles


def test_a_function_added_to_topology_is_watched_without_touching_terraform(tree):
    text = (tree / "topology.yaml").read_text()
    (tree / "topology.yaml").write_text(text.replace(
        "\nfirestore:\n", "\n  forward_slack:\n    trigger: topic\n    topic: events\n    concurrency: 80\n\nfirestore:\n", 1))
    assert monitoring_checks.check_monitoring_names_real_metrics_and_topology(tree) == []
    rendered = monitoring_checks.render(tree)
    [dead] = conditions(rendered, "dead_letters")
    assert '"forward_slack-dead-letter-hold"' in dead["filter"]
    assert any('"forward-slack"' in c["filter"] for c in conditions(rendered, "latency"))


# -- the checks fail on broken copies ----------------------------------------------------------------

@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for name in ("terraform", "shared"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", ".terraform*"))
    shutil.copy(ROOT / "topology.yaml", tmp_path / "topology.yaml")
    shutil.copy(ROOT / "cloudbuild.yaml", tmp_path / "cloudbuild.yaml")
    return tmp_path


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


MODULE = Path("terraform/modules/monitoring/main.tf")


def test_a_misspelt_builtin_metric_is_caught(tree):
    _edit(tree / MODULE, '"pubsub.googleapis.com/subscription/oldest_unacked_message_age"',
          '"pubsub.googleapis.com/subscription/oldest_unacked_age"')
    problems = monitoring_checks.check_monitoring_names_real_metrics_and_topology(tree)
    assert any("alert push_backlog_age" in p and "'pubsub.googleapis.com/subscription/oldest_unacked_age' is neither "
               "a built-in metric" in p for p in problems)
    assert "the dashboard has no chart of pubsub.googleapis.com/subscription/oldest_unacked_message_age" in problems


def test_a_log_based_metric_topology_does_not_declare_is_caught(tree):
    _edit(tree / MODULE, "metric  = local.log_metric_type.events_published,",
          'metric  = "logging.googleapis.com/user/fpass/events_in",')
    problems = monitoring_checks.check_monitoring_names_real_metrics_and_topology(tree)
    assert any("'logging.googleapis.com/user/fpass/events_in' is neither a built-in metric" in p for p in problems)
    assert "the dashboard has no chart of logging.googleapis.com/user/fpass/events_published" in problems


def test_a_subscription_topology_does_not_declare_is_caught(tree):
    _edit(tree / MODULE, '"${name}-dead-letter${var.topology.dead_letters.hold_subscription_suffix}"',
          '"${name}-dlq"')
    problems = monitoring_checks.check_monitoring_names_real_metrics_and_topology(tree)
    assert any("names subscription 'forward_webhook-dlq', which topology.yaml does not declare" in p for p in problems)
    assert "alert dead_letters does not watch 'forward_webhook-dead-letter-hold', which topology.yaml declares" in problems


def test_a_list_of_functions_kept_by_hand_is_caught(tree):
    _edit(tree / MODULE, "error_ratio    = { for name in local.function_names :",
          'error_ratio    = { for name in ["ingest", "monitor"] :')
    problems = monitoring_checks.check_monitoring_names_real_metrics_and_topology(tree)
    assert "alert error_ratio does not watch 'forward-webhook', which topology.yaml declares" in problems
    assert "alert error_ratio does not watch 'ingest', which topology.yaml declares" not in problems


def test_a_function_topology_does_not_declare_is_caught(tree):
    _edit(tree / MODULE, 'resource.labels.service_name=${local.quoted_service.ingest}',
          'resource.labels.service_name=\\"ingest-v2\\"')
    problems = monitoring_checks.check_monitoring_names_real_metrics_and_topology(tree)
    assert any("alert ingest_failed_dependency" in p and "names service 'ingest-v2', which topology.yaml does not "
               "declare" in p for p in problems)
    assert "alert ingest_failed_dependency does not watch 'ingest', which topology.yaml declares" in problems


def test_a_label_the_metric_lacks_and_a_misspelt_enum_are_caught(tree):
    _edit(tree / MODULE, 'group_by = ["metric.label.partner", "metric.label.kind"]',
          'group_by = ["metric.label.partner_id", "metric.label.kind"]')
    _edit(tree / MODULE, 'cross_series_reducer = "REDUCE_PERCENTILE_99"', 'cross_series_reducer = "REDUCE_PERCENTILE_98"')
    problems = monitoring_checks.check_monitoring_names_real_metrics_and_topology(tree)
    assert any("logging.googleapis.com/user/fpass/deliveries has no label metric.label.partner_id" in p for p in problems)
    assert any(p.startswith("alert latency is not a valid AlertPolicy") and "REDUCE_PERCENTILE_98" in p for p in problems)


def test_a_rate_of_a_gauge_is_caught(tree):
    _edit(tree / MODULE, 'threshold_value = var.dead_letter_messages\n          aggregations    = [{ alignment_period = "60s", '
                         'per_series_aligner = "ALIGN_MAX"',
          'threshold_value = var.dead_letter_messages\n          aggregations    = [{ alignment_period = "60s", '
          'per_series_aligner = "ALIGN_RATE"')
    problems = monitoring_checks.check_monitoring_names_real_metrics_and_topology(tree)
    assert any("ALIGN_RATE on the gauge pubsub.googleapis.com/subscription/num_undelivered_messages" in p for p in problems)


def test_a_module_terraform_refuses_is_reported(tree):
    _edit(tree / MODULE, "local.log_metric_type.publish_failures", "local.log_metric_type.publish_failure")
    [problem] = monitoring_checks.check_monitoring_names_real_metrics_and_topology(tree)
    assert problem.startswith("Terraform cannot render modules/monitoring") and "publish_failure" in problem


def test_a_missing_alert_policy_is_caught(rendered):
    broken = copy.deepcopy(rendered)
    del broken["alert_policies"]["ingest_failed_dependency"]
    assert monitoring_checks.rendered_problems(broken, monitoring_checks.targets(ROOT)) == [
        "no alert policy 'ingest_failed_dependency'"]


def test_a_filter_the_checks_cannot_read_is_refused(rendered):
    broken = copy.deepcopy(rendered)
    broken["alert_policies"]["latency"]["conditions"][0]["condition_threshold"]["filter"] += " OR 1=1"
    problems = monitoring_checks.rendered_problems(broken, monitoring_checks.targets(ROOT))
    assert any("cannot read filter term" in p for p in problems)


def test_a_renamed_log_line_is_caught(tree):
    _edit(tree / "shared" / "forwarding" / "forwarder.py", 'logger.warning("delivery failed; retry scheduled"',
          'logger.warning("delivery error; retry scheduled"')
    assert monitoring_checks.check_log_metrics_count_lines_the_code_writes(tree) == [
        "log-based metric deliveries counts 'delivery failed; retry scheduled', which no module of shared/ logs"]


def test_a_renamed_log_field_is_caught(tree):
    # The fields every delivery line shares come from one helper (Forwarder._fields).
    _edit(tree / "shared" / "forwarding" / "forwarder.py", '"partner": delivery.partner,', '"partnerId": delivery.partner,')
    problems = monitoring_checks.check_log_metrics_count_lines_the_code_writes(tree)
    assert len(problems) == 3  # the three delivery lines share their fields
    assert problems[0].startswith("log-based metric deliveries reads ['kind', 'partner'] from 'delivered', but shared/ "
                                  "logs it with [")
    assert "'partnerId'" in problems[0]


def test_fields_of_a_literal_extra_are_read(tree):
    (tree / "shared" / "audit.py").write_text(
        "import logging\nlogger = logging.getLogger(__name__)\n\n"
        "def note(ok):\n    logger.info('kept' if ok else 'lost', extra={'reason': 'x', 'kind': 'y'})\n")
    lines = monitoring_checks.logged_lines(tree)
    assert lines["kept"] == [{"reason", "kind"}] and lines["lost"] == [{"reason", "kind"}]


def test_a_monitoring_resource_written_by_hand_is_caught(tree):
    with (tree / "terraform" / "monitoring.tf").open("a") as tf:
        tf.write('\nresource "google_monitoring_alert_policy" "extra" {\n  display_name = "x"\n  combiner = "OR"\n'
                 '  conditions {\n    display_name = "x"\n    condition_threshold {\n'
                 '      filter = "metric.type=\\"run.googleapis.com/request_count\\""\n'
                 '      comparison = "COMPARISON_GT"\n      duration = "0s"\n    }\n  }\n}\n')
    assert monitoring_checks.check_monitoring_resources_come_from_the_module(tree) == [
        "google_monitoring_alert_policy.extra (terraform/monitoring.tf) does not take its for_each from "
        "module.monitoring.alert_policies",
        "terraform/monitoring.tf writes a metric filter outside modules/monitoring"]


def test_the_readme_documents_every_metric_alert_and_threshold_with_its_default(rendered):
    readme = (ROOT / "README.md").read_text()
    operating = readme[readme.index("\n## Operating\n"):]
    for name in rendered["log_metrics"]:
        assert f"| `{name}` |" in operating, name
    for policy in rendered["alert_policies"].values():
        assert f"| {policy['display_name']} |" in operating, policy["display_name"]
    variables = {name: body for block in monitoring_checks.deploy_check._hcl(ROOT / "terraform" / "variables.tf")["variable"]
                 for name, body in block.items() if name.startswith("alert_") and name != "alert_notification_channels"}
    assert len(variables) == 5
    for name, body in variables.items():
        [row] = [line for line in operating.splitlines() if line.endswith("|") and f"`{name}` (" in line]
        default = body["default"]
        pairs = [f"{k} = {v}" for k, v in default.items()] if isinstance(default, dict) else [f"({default})"]
        assert all(pair in row for pair in pairs), (name, default, row)


def test_a_resource_reading_a_field_the_module_does_not_give_is_caught(tree):
    _edit(tree / MODULE, 'policy = { combiner = "OR", alert_strategy', "policy = { alert_strategy")
    _edit(tree / "terraform" / "monitoring.tf", "description = labels.value.description",
          "description = labels.value.text")
    assert monitoring_checks.check_monitoring_resources_come_from_the_module(tree) == [
        "google_logging_metric.platform reads labels.value.text, which module.monitoring does not give",
        "google_monitoring_alert_policy.platform reads each.value.combiner, which module.monitoring does not give"]
