"""make deploy-check: the plan inputs of the pipeline, missing operator settings named, and
Terraform's own checks of the settings (variables.tf and modules/settings, run offline with the
real terraform) refusing what would fail or misbehave in a real project. Also preflight's and
post-apply's decisions, with gcloud replaced by a recorder."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tools import deploy_check, topology

ROOT = deploy_check.REPO_ROOT
EXAMPLE = ROOT / "terraform" / "environments" / "example.tfvars"


class Output(list):
    def __call__(self, line: str = "") -> None:
        self.append(line)

    @property
    def text(self) -> str:
        return "\n".join(self)


def run(tfvars: Path, root: Path = ROOT, project: str | None = "my-project-123") -> tuple[int, str]:
    out = Output()
    code = deploy_check.check(root, project, tfvars, out)
    return code, re.sub(r"\s+", " ", out.text)


def settings(tmp_path: Path, **changes: str) -> Path:
    """example.tfvars with some settings replaced (name=HCL value) or removed (name=None)."""
    text = EXAMPLE.read_text()
    for name, value in changes.items():
        pattern = re.compile(rf"^{name} = (\{{.*?^\}}|.*?)$", re.M | re.S)
        if pattern.search(text):
            text = pattern.sub("" if value is None else f"{name} = {value}", text, count=1)
        elif value is not None:
            text += f"\n{name} = {value}\n"
    path = tmp_path / "deploy.tfvars"
    path.write_text(text)
    return path


def test_the_example_settings_pass_and_the_pipeline_plan_is_rendered():
    code, text = run(EXAMPLE)
    assert code == 0, text
    assert ("terraform plan -input=false -out=tfplan -var-file=environments/example.tfvars "
            "-var=project_id=my-project-123") in text
    assert "ingest 512Mi timeout 60s" in text and "invokers serviceAccount:platform-app@" in text
    assert "origins https://shop.example.com,https://www.example-store.com.br" in text
    assert "forward_webhook 512Mi timeout 60s concurrency 80 max 20 as fn-forward-webhook; push ack deadline 60s" in text


def test_concurrency_is_topologys_unless_the_operator_names_the_function(tmp_path):
    code, text = run(EXAMPLE)
    assert code == 0, text
    for spec in topology.load().functions:
        assert re.search(rf" {spec.name} \S+ timeout \d+s concurrency {spec.concurrency} ", text), spec.name
    code, text = run(settings(tmp_path, function_concurrency="{ default = 80, ingest = 7 }"))
    assert code == 0 and re.search(r" ingest \S+ timeout \d+s concurrency 7 ", text)


def test_without_the_settings_file_every_missing_setting_is_named(tmp_path):
    code, text = run(tmp_path / "deploy.tfvars")
    assert code == 1
    assert "deploy.tfvars does not exist: copy terraform/environments/example.tfvars" in text
    for name in ("invoker_members", "beacon_allowed_origins", "partner_secret_ids"):
        assert f"missing operator setting '{name}'" in text


def test_one_missing_setting_is_named_alone(tmp_path):
    code, text = run(settings(tmp_path, partner_secret_ids=None))
    assert code == 1
    assert "missing operator setting 'partner_secret_ids'" in text
    assert "invoker_members'" not in text and "does not exist" not in text


def test_no_project_is_named(tmp_path):
    code, text = run(EXAMPLE, project=None)
    assert code == 1 and "no project: pass --project" in text


def test_a_private_function_without_invokers_is_refused_unless_allowed(tmp_path):
    code, text = run(settings(tmp_path, invoker_members='{ ingest = ["serviceAccount:a@p.iam.gserviceaccount.com"] }'))
    assert code == 1
    assert "invoker_members gives nobody for the private function(s) monitor, reports: every call would be " \
           "refused (403)" in text
    code, text = run(settings(tmp_path, invoker_members='{ ingest = ["serviceAccount:a@p.iam.gserviceaccount.com"] }',
                              private_functions_without_invokers='["monitor", "reports"]'))
    assert code == 0, text


def test_public_principals_and_unknown_functions_in_invokers_are_refused(tmp_path):
    code, text = run(settings(tmp_path, invoker_members='{ ingest = ["allUsers"], monitor = ["user:a@b.c"], '
                                                        'reports = ["user:a@b.c"] }'))
    assert code == 1 and "allUsers and allAuthenticatedUsers are refused" in text
    code, text = run(settings(tmp_path, invoker_members='{ ingest = ["user:a@b.c"], monitor = ["user:a@b.c"], '
                                                        'reports = ["user:a@b.c"], beacon = ["user:a@b.c"] }'))
    assert code == 1 and "invoker_members names functions that are not private HTTP functions of " \
                         "topology.yaml: beacon" in text


@pytest.mark.parametrize("origins, problem", [
    ("[]", "beacon_allowed_origins is empty: every browser would be refused"),
    ('["https://shop.example.com/"]', "beacon_allowed_origins entries are origins"),
    ('["*"]', "beacon_allowed_origins entries are origins"),
    ('["http://shop.example.com"]', "beacon_allowed_origins entries are origins"),
])
def test_unusable_beacon_origins_are_refused(tmp_path, origins, problem):
    code, text = run(settings(tmp_path, beacon_allowed_origins=origins))
    assert code == 1 and problem in text


def test_regions_with_two_digit_numbers_are_accepted_and_malformed_ones_refused(tmp_path):
    code, text = run(settings(tmp_path, region='"europe-west10"'))
    assert code == 0 and "region europe-west10" in text
    code, text = run(settings(tmp_path, region='"europe_west1"'))
    assert code == 1 and "region must look like" in text


def test_the_ack_deadline_follows_a_longer_function_timeout(tmp_path):
    code, text = run(settings(tmp_path, function_timeout_seconds="{ default = 60, forward_webhook = 120 }"))
    assert code == 0, text
    assert "forward_webhook 512Mi timeout 120s concurrency 80 max 20 as fn-forward-webhook; push ack deadline 120s" in text
    assert "forward_gcs 512Mi timeout 60s concurrency 80 max 20 as fn-forward-gcs; push ack deadline 60s" in text


def test_a_pushed_function_slower_than_any_ack_deadline_is_refused(tmp_path):
    code, text = run(settings(tmp_path, function_timeout_seconds="{ default = 60, forward_gcs = 900 }"))
    assert code == 1
    assert "The timeout of forward_gcs is above 600 s, Pub/Sub's longest ack deadline" in text


def test_settings_for_unknown_functions_are_refused(tmp_path):
    code, text = run(settings(tmp_path, function_env='{ beacn = { X = "1" } }'))
    assert code == 1 and "function_env names functions that topology.yaml does not have: beacn" in text
    code, text = run(settings(tmp_path, function_memory='{ default = "512Mi", ingets = "1Gi" }'))
    assert code == 1 and "name functions that topology.yaml does not have: ingets" in text


def test_bad_secret_ids_and_alert_channels_are_refused(tmp_path):
    code, text = run(settings(tmp_path, partner_secret_ids='["projects/p/secrets/x"]'))
    assert code == 1 and "partner_secret_ids are secret ids" in text
    code, text = run(settings(tmp_path, alert_notification_channels='["12345"]'))
    assert code == 1 and "alert_notification_channels entries look like" in text


def test_the_default_alert_thresholds_are_shown():
    code, text = run(EXAMPLE)
    assert code == 0, text
    assert ('alert "FPASS: a function is slow (p99 latency)" when: p99 latency above 5000 ms: attribution, beacon, '
            'ingest, monitor, reports; p99 latency above 15000 ms: forward_gcs, forward_mongodb; p99 latency above '
            '115000 ms: forward_redrive; p99 latency above 35000 ms: forward_webhook') in text
    assert "Oldest unacknowledged message older than 900 s: attribution, forward_gcs, forward_mongodb, forward_webhook" in text
    assert "More than 0 message(s) in a dead-letter hold subscription" in text


def test_alert_thresholds_are_set_per_function(tmp_path):
    code, text = run(settings(tmp_path, alert_latency_p99_ms="{ default = 2000, ingest = 800 }",
                              alert_error_ratio="{ default = 0.1, reports = 0.5 }",
                              alert_oldest_unacked_seconds="{ default = 600, attribution = 3600 }",
                              alert_dead_letter_messages="10", alert_failed_dependency_per_minute="3"))
    assert code == 0, text
    assert ("p99 latency above 2000 ms: attribution, beacon, forward_gcs, forward_mongodb, forward_redrive, "
            "forward_webhook, monitor, "
            "reports; p99 latency above 800 ms: ingest") in text
    assert "5xx answers above 10 % of requests: attribution, beacon, forward_gcs" in text
    assert "5xx answers above 50 % of requests: reports" in text
    assert ("older than 3600 s: attribution; Oldest unacknowledged message older than 600 s: forward_gcs, "
            "forward_mongodb, forward_webhook") in text
    assert "More than 10 message(s)" in text and "More than 3 failed_dependency answer(s) per minute" in text


@pytest.mark.parametrize("setting, value, problem", [
    ("alert_error_ratio", "{ default = 0.05, ingets = 0.1 }",
     "alert_error_ratio, alert_latency_p99_ms or alert_oldest_unacked_seconds name functions that topology.yaml "
     "does not have (alert_oldest_unacked_seconds: topic-triggered functions only): ingets"),
    ("alert_oldest_unacked_seconds", "{ default = 900, ingest = 60 }", "topic-triggered functions only): ingest"),
    ("alert_latency_p99_ms", "{ ingest = 800 }", 'alert_latency_p99_ms needs a "default" entry'),
    ("alert_error_ratio", "{ default = 5 }", "every value is a share from 0 to below 1"),
    ("alert_oldest_unacked_seconds", "{ default = 30 }", "every value is 60 seconds or more"),
    ("alert_dead_letter_messages", "-1", "alert_dead_letter_messages must be 0 or more"),
    ("alert_latency_p99_ms", "{ default = 1, ingest = 2, monitor = 3, beacon = 4, reports = 5, attribution = 6, "
                             "forward_gcs = 7 }", "An alert policy holds at most 6 conditions"),
])
def test_unusable_alert_thresholds_are_refused(tmp_path, setting, value, problem):
    code, text = run(settings(tmp_path, **{setting: value}))
    assert code == 1 and problem in text, text


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """The files deploy_check reads, copied so they can be broken."""
    copy = tmp_path / "tree"
    shutil.copytree(ROOT / "terraform", copy / "terraform", ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*"))
    for name in ("topology.yaml", "cloudbuild.yaml"):
        shutil.copy(ROOT / name, copy / name)
    return copy


def test_a_function_whose_service_account_id_is_too_short_is_refused(tree):
    text = (tree / "topology.yaml").read_text()
    text = text.replace("\nfirestore:\n", "\n  ab:\n    trigger: topic\n    topic: events\n\nfirestore:\n", 1)
    (tree / "topology.yaml").write_text(text)
    code, out = run(tree / "terraform" / "environments" / "example.tfvars", root=tree)
    assert code == 1
    assert "These service account ids would be refused" in out and "fn-ab" in out


def test_a_long_function_name_is_refused(tree):
    name = "forward_to_a_partner_warehouse"
    text = (tree / "topology.yaml").read_text()
    (tree / "topology.yaml").write_text(text.replace(
        "\nfirestore:\n", f"\n  {name}:\n    trigger: topic\n    topic: events\n\nfirestore:\n", 1))
    code, out = run(tree / "terraform" / "environments" / "example.tfvars", root=tree)
    assert code == 1 and "fn-forward-to-a-partner-warehouse" in out and "push-forward-to-a-partner-warehouse" in out


def test_a_pipeline_that_reads_no_settings_file_is_named(tree):
    path = tree / "cloudbuild.yaml"
    path.write_text(path.read_text().replace("      - -var-file=${_TFVARS}\n", ""))
    code, out = run(tree / "terraform" / "environments" / "example.tfvars", root=tree)
    assert code == 1 and "cloudbuild.yaml's plan step passes no -var-file" in out


def test_the_provider_free_part_really_needs_no_provider():
    """What deploy_check copies has no resource, data source or provider block (else terraform init
    would try to download a provider, which fails offline)."""
    for name in deploy_check.PROVIDER_FREE:
        path = ROOT / "terraform" / name
        for tf in ([path] if path.is_file() else sorted(path.rglob("*.tf"))):
            assert not re.search(r'^\s*(resource|data|provider)\s+"', tf.read_text(), re.M), tf


# -- online parts, with gcloud replaced ------------------------------------------------------------

class Gcloud:
    def __init__(self, returncode: int = 0, stdout: str = "", stderr: str = ""):
        self.calls: list[list[str]] = []
        self.answer = subprocess.CompletedProcess([], returncode, stdout, stderr)

    def __call__(self, args: list[str]) -> subprocess.CompletedProcess:
        self.calls.append(args)
        return self.answer


@pytest.mark.parametrize("policy, restricted", [
    ({}, False),
    ({"listPolicy": {"allValues": "ALLOW"}}, False),
    ({"listPolicy": {"allowedValues": ["C03xxxxx"]}}, True),
    ({"listPolicy": {"allValues": "DENY"}}, True),
    ({"listPolicy": {"deniedValues": ["C0yyyy"]}}, False),
])
def test_domain_restricted_sharing_is_recognised(policy, restricted):
    assert deploy_check.restricts_all_users(policy) is restricted


def test_preflight_refuses_allusers_under_domain_restricted_sharing():
    gcloud = Gcloud(stdout=json.dumps({"constraint": deploy_check.DRS_CONSTRAINT,
                                       "listPolicy": {"allowedValues": ["C03xxxxx"]}}))
    out = Output()
    assert deploy_check.preflight(ROOT, "my-project-123", EXAMPLE, out, gcloud) == 1
    assert gcloud.calls == [["resource-manager", "org-policies", "describe", deploy_check.DRS_CONSTRAINT,
                             "--project=my-project-123", "--effective", "--format=json"]]
    assert 'Set beacon_public_access = "invoker-iam-check-disabled"' in out.text


def test_preflight_passes_when_the_policy_allows_or_cannot_be_read():
    assert deploy_check.preflight(ROOT, "my-project-123", EXAMPLE, Output(), Gcloud(stdout="{}")) == 0
    out = Output()
    assert deploy_check.preflight(ROOT, "my-project-123", EXAMPLE, out, Gcloud(1, stderr="PERMISSION_DENIED")) == 0
    assert "warning: could not read the effective" in out.text


def test_preflight_skips_the_policy_when_beacon_needs_no_grant(tmp_path):
    gcloud = Gcloud()
    tfvars = settings(tmp_path, beacon_public_access='"invoker-iam-check-disabled"')
    assert deploy_check.preflight(ROOT, "my-project-123", tfvars, Output(), gcloud) == 0
    assert gcloud.calls == []


def test_post_apply_turns_off_beacons_invoker_check_only_when_asked(tmp_path):
    gcloud = Gcloud()
    assert deploy_check.post_apply(ROOT, "my-project-123", EXAMPLE, Output(), gcloud) == 0
    assert gcloud.calls == []
    tfvars = settings(tmp_path, beacon_public_access='"invoker-iam-check-disabled"', region='"europe-west12"')
    assert deploy_check.post_apply(ROOT, "my-project-123", tfvars, Output(), gcloud) == 0
    assert gcloud.calls == [["run", "services", "update", "beacon", "--project=my-project-123",
                             "--region=europe-west12", "--no-invoker-iam-check", "--quiet"]]
