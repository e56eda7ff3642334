"""Offline checks of Terraform and Cloud Build, on the real tree and on broken copies of it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from google.cloud.devtools.cloudbuild_v1.types import Build
from google.protobuf import json_format

from tools import infra_checks

ROOT = infra_checks.REPO_ROOT
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
TERRAFORM_ENV = {"TF_CLI_CONFIG_FILE": "/dev/null", "CHECKPOINT_DISABLE": "1", "PATH": "/usr/local/bin:/usr/bin:/bin"}


def test_the_tree_passes_every_offline_check():
    assert infra_checks.run_all(ROOT) == []


def test_terraform_is_formatted():
    result = subprocess.run(["terraform", "fmt", "-check", "-recursive", "-diff", "terraform"], cwd=ROOT,
                            capture_output=True, text=True, env=TERRAFORM_ENV)
    assert result.returncode == 0, result.stdout + result.stderr


def test_checkov_finds_no_failed_check_and_every_skip_has_a_reason():
    assert CHECKOV.exists(), "checkov's own venv is missing: run `make test`, which installs it"
    result = subprocess.run([str(CHECKOV), "-d", "terraform", "--framework", "terraform", "--quiet", "--compact",
                             "--skip-download", "-o", "json"], cwd=ROOT, capture_output=True, text=True)
    report = json.loads(result.stdout)
    summary = report["summary"]
    failed = [f"{c['check_id']} {c['resource']}" for c in report["results"]["failed_checks"]]
    assert summary["failed"] == 0, failed
    assert summary["passed"] > 0
    for path in (ROOT / "terraform").rglob("*.tf"):
        for skip in re.findall(r"checkov:skip=([^\n]*)", path.read_text()):
            check_id, _, reason = skip.partition(":")
            assert len(reason.strip()) > 20, f"{path.name}: skip of {check_id} has no written reason"


def test_cloudbuild_is_a_valid_build_message():
    document = yaml.safe_load((ROOT / "cloudbuild.yaml").read_text())
    build = json_format.ParseDict(document, Build.pb(Build()), ignore_unknown_fields=False)
    assert [s.id for s in build.steps] == ["terraform-binary", "test", "package", "preflight", "terraform-init",
                                           "terraform-plan", "terraform-apply", "post-apply"]
    steps = {s.id: s for s in build.steps}
    assert steps["test"].args[-1].endswith("make test")
    # Every step after the first waits for the one before: the pipeline is one sequence.
    assert all(list(b.wait_for) == [a.id] for a, b in zip(build.steps, build.steps[1:]))
    assert build.service_account.endswith("/serviceAccounts/fpass-deployer@${PROJECT_ID}.iam.gserviceaccount.com")
    assert build.timeout.seconds > 0


def test_a_misspelt_cloudbuild_field_is_rejected():
    document = yaml.safe_load((ROOT / "cloudbuild.yaml").read_text())
    document["steps"][1]["entrypiont"] = document["steps"][1].pop("entrypoint")
    with pytest.raises(json_format.ParseError):
        json_format.ParseDict(document, Build.pb(Build()), ignore_unknown_fields=False)


def test_yaml_files_are_lint_clean():
    result = subprocess.run([str(ROOT / ".venv" / "bin" / "yamllint"), "-c", ".yamllint.yaml", "--strict",
                             "cloudbuild.yaml", "topology.yaml"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


# -- the checks fail on broken copies ---------------------------------------------------------

@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for name in ("functions", "terraform", "shared"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", ".terraform"))
    for name in ("topology.yaml", "cloudbuild.yaml", "Makefile", "system-parts.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def test_a_function_folder_without_a_resource_is_caught(tree):
    before = (infra_checks.check_functions_match_topology(tree), infra_checks.check_terraform_deploys_every_function(tree))
    (tree / "functions" / "ghost").mkdir()
    (tree / "functions" / "ghost" / "main.py").write_text("def ghost(request): ...\n")
    assert infra_checks.check_functions_match_topology(tree) == sorted(
        before[0] + ["functions/ghost/ has no entry in topology.yaml (so no Terraform resource)"])
    assert infra_checks.check_terraform_deploys_every_function(tree) == sorted(
        before[1] + ["functions/ghost/ has no Cloud Function resource in Terraform"])


def test_a_terraform_function_block_removed_is_caught(tree):
    path = tree / "terraform" / "functions.tf"
    _edit(path, "for_each = local.http_functions", "for_each = {}")
    assert any("has no Cloud Function resource" in p for p in infra_checks.check_terraform_deploys_every_function(tree))


def test_a_push_subscription_without_dead_letter_policy_is_caught(tree):
    path = tree / "terraform" / "modules" / "pushed_function" / "main.tf"
    text = path.read_text()
    path.write_text(re.sub(r"\n  dead_letter_policy \{.*?\n  \}\n", "\n", text, flags=re.S))
    assert infra_checks.check_push_subscriptions_have_policies(tree) == [
        "push subscription push (main.tf) has no dead_letter_policy"]


def test_an_expiring_collection_without_ttl_policy_is_caught(tree):
    (tree / "shared" / "sessions.py").write_text(
        'SESSIONS_COLLECTION = "sessions"\n\ndef save(db):\n    db.collection(SESSIONS_COLLECTION).add({"expireAt": 1})\n')
    assert any("'sessions'" in p for p in infra_checks.check_ttl_policies(tree))


def test_a_second_public_function_is_caught(tree):
    _edit(tree / "topology.yaml", "public: false", "public: true")
    assert any("is public in topology.yaml" in p for p in infra_checks.check_only_beacon_is_public(tree))


def test_a_public_grant_outside_the_public_set_is_caught(tree):
    _edit(tree / "terraform" / "functions.tf", "member   = each.value.member", 'member   = "allUsers"')
    assert any("private_invoker grants public access" in p for p in infra_checks.check_only_beacon_is_public(tree))


def test_a_primitive_role_is_caught(tree):
    _edit(tree / "terraform" / "identity.tf", 'role       = "roles/logging.logWriter"', 'role       = "roles/editor"')
    [problem] = infra_checks.check_no_primitive_roles(tree)
    assert problem.startswith("terraform/identity.tf:") and problem.endswith("uses a primitive role")


def test_a_topic_only_terraform_declares_is_caught(tree):
    with (tree / "terraform" / "pubsub.tf").open("a") as tf:
        tf.write('\nresource "google_pubsub_topic" "audit" {\n  name = "audit"\n}\n')
    assert infra_checks.check_local_stack_matches_terraform(tree) == [
        "topics differ: local stack only [], Terraform only ['audit']"]


def test_a_topic_the_local_stack_has_but_terraform_lacks_is_caught(tree):
    _edit(tree / "terraform" / "pubsub.tf", "for_each                   = toset(local.topics)",
          "for_each                   = toset([])")
    [problem] = infra_checks.check_local_stack_matches_terraform(tree)
    assert problem.startswith("topics differ: local stack only [") and "'events'" in problem


def test_a_grant_on_an_unknown_topic_is_caught(tree):
    _edit(tree / "topology.yaml", "publishes: [conversions]", "publishes: [convertions]")
    assert infra_checks.check_function_grants_name_known_topics(tree) == [
        "function 'beacon' publishes to 'convertions', which is not a topic of topology.yaml"]


def test_every_check_passes_on_an_unbroken_copy(tree):
    assert infra_checks.run_all(tree) == []


def test_a_service_account_created_before_the_apis_is_caught(tree):
    _edit(tree / "terraform" / "identity.tf", 'description  = try(each.value.description, "")\n  depends_on   = [google_project_service.required]',
          'description  = try(each.value.description, "")')
    assert infra_checks.check_identities_wait_for_apis(tree) == [
        "google_service_account.function (terraform/identity.tf) does not depend on google_project_service.required"]


def test_a_module_identity_created_before_the_apis_is_caught(tree):
    _edit(tree / "terraform" / "pubsub.tf", "depends_on = [google_project_service.required, google_project_iam_member.builder]",
          "depends_on = [google_project_iam_member.builder]")
    assert infra_checks.check_identities_wait_for_apis(tree) == [
        "google_service_account.pusher (terraform/modules/pushed_function/main.tf) does not depend on "
        "google_project_service.required"]


def test_a_project_read_before_its_api_is_caught(tree):
    _edit(tree / "terraform" / "main.tf", 'data "google_project" "current" {\n  depends_on = [google_project_service.required]\n}',
          'data "google_project" "current" {}')
    _edit(tree / "terraform" / "main.tf", '"cloudresourcemanager.googleapis.com",', "")
    assert infra_checks.check_project_read_after_apis(tree) == [
        "data.google_project.current is read before google_project_service.required",
        "google_project_service.required does not enable cloudresourcemanager.googleapis.com"]


def test_a_push_subscription_that_does_not_wait_for_its_grants_is_caught(tree):
    path = tree / "terraform" / "modules" / "pushed_function" / "main.tf"
    path.write_text(re.sub(r"\n  depends_on = \[\n    google_cloud_run_service_iam_member.*?\]\n", "\n", path.read_text(), flags=re.S))
    assert infra_checks.check_push_subscriptions_wait_for_grants(tree) == [
        "push subscription push (main.tf) does not depend on the pusher's run.invoker grant",
        "push subscription push (main.tf) does not depend on the agent's token-creator grant on the pusher"]


def test_a_function_built_by_the_default_build_account_is_caught(tree):
    _edit(tree / "terraform" / "modules" / "function" / "main.tf", "service_account = var.function.build_service_account", "")
    assert infra_checks.check_functions_build_as_their_account(tree) == [
        "google_cloudfunctions2_function.this (main.tf) has no build_config.service_account"]


def test_a_source_bucket_rule_that_never_fires_is_caught(tree):
    _edit(tree / "terraform" / "source.tf", 'with_state                 = "ARCHIVED"\n      days_since_noncurrent_time = 30',
          "num_newer_versions = 5")
    assert infra_checks.check_versioned_buckets_expire_old_versions(tree) == [
        "versioned bucket sources (source.tf) never deletes noncurrent versions by age"]


def test_the_local_stack_runs_each_function_with_its_topology_concurrency_as_threads(tmp_path):
    from tools.stack import LocalStack

    stack = LocalStack(state_dir=tmp_path)
    for spec in stack.topology.functions:
        assert spec.concurrency >= 1
        assert stack.env_of(spec.name)["THREADS"] == str(spec.concurrency)
    assert stack.env_of("ingest", {"THREADS": "3"})["THREADS"] == "3"


def test_a_scheduled_function_without_a_scheduler_job_is_caught(tree):
    _edit(tree / "terraform" / "scheduler.tf", "for_each         = local.scheduled_functions", "for_each         = {}")
    assert infra_checks.check_scheduled_functions_have_jobs(tree) == [
        "no google_cloud_scheduler_job for each of local.scheduled_functions (forward_redrive)"]


def test_a_scheduler_job_without_oidc_is_caught(tree):
    path = tree / "terraform" / "scheduler.tf"
    path.write_text(re.sub(r"\n    oidc_token \{.*?\n    \}", "", path.read_text(), flags=re.S))
    assert infra_checks.check_scheduled_functions_have_jobs(tree) == ["scheduler job function calls without an OIDC token"]


def test_dead_letters_of_a_function_without_a_dead_letter_topic_is_caught(tree):
    _edit(tree / "topology.yaml", "dead_letters_of: [forward_webhook,", "dead_letters_of: [ingest,")
    assert infra_checks.check_function_grants_name_known_topics(tree) == [
        "function 'forward_redrive' publishes the dead letters of 'ingest', which is not a topic-triggered "
        "function (it has no dead-letter topic)"]
