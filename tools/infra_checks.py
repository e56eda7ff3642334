"""Offline checks that Terraform, topology.yaml, the functions and the code agree.

Nothing can be planned here (no cloud, no provider download), so these checks read the
configuration itself: parsed HCL (python-hcl2), topology.yaml and the code. Each check returns
a list of problems, empty when all is well; ``python -m tools.infra_checks`` runs them all.
Tests also run them on deliberately broken copies of the tree to show each check can fail.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import hcl2
import yaml
from hcl2.utils import SerializationOptions

REPO_ROOT = Path(__file__).resolve().parent.parent
PRIMITIVE_ROLES = re.compile(r"roles/(owner|editor|viewer)\b")
PUBLIC_MEMBERS = ("allUsers", "allAuthenticatedUsers")
ALLOWED_PUBLIC_FUNCTIONS = {"beacon"}
# How modules/pushed_function names its topic and subscription after its function.
MODULE_FUNCTION_NAME = "${var.function.name}"
# Root-level modules that each deploy one Cloud Function per for_each key.
FUNCTION_MODULES = ("modules/function", "modules/pushed_function")
COLLECTION_CONSTANT = re.compile(r"^\s*[A-Z_]*COLLECTION[A-Z_]*\s*(?::\s*[\w\[\]]+)?\s*=\s*[\"']([\w\-]+)[\"']", re.M)


@dataclass(frozen=True)
class Resource:
    file: Path
    kind: str  # "resource" type, or "module"
    name: str
    body: dict[str, Any]


def _load_hcl(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        return hcl2.load(handle, serialization_options=SerializationOptions(
            strip_string_quotes=True, explicit_blocks=False))


def terraform_blocks(root: Path) -> Iterator[Resource]:
    """Every resource and module block under terraform/, modules included."""
    for path in sorted((root / "terraform").rglob("*.tf")):
        parsed = _load_hcl(path)
        for entry in parsed.get("resource", []):
            for kind, named in entry.items():
                for name, body in named.items():
                    yield Resource(path, kind, name, body)
        for entry in parsed.get("module", []):
            for name, body in entry.items():
                yield Resource(path, "module", name, body)


def _locals(root: Path) -> dict[str, str]:
    merged: dict[str, str] = {}
    for path in sorted((root / "terraform").glob("*.tf")):
        for block in _load_hcl(path).get("locals", []):
            merged.update(block)
    return merged


def _topology(root: Path) -> dict[str, Any]:
    return yaml.safe_load((root / "topology.yaml").read_text(encoding="utf-8"))


def _for_each(block: Resource) -> str:
    return str(block.body.get("for_each", ""))


# ---------------------------------------------------------------------------------------------

def check_functions_match_topology(root: Path) -> list[str]:
    folders = {p.parent.name for p in (root / "functions").glob("*/main.py")}
    declared = set(_topology(root).get("functions", {}))
    return ([f"functions/{n}/ has no entry in topology.yaml (so no Terraform resource)" for n in sorted(folders - declared)]
            + [f"topology.yaml declares function {n!r} but functions/{n}/main.py does not exist"
               for n in sorted(declared - folders)])


def check_function_grants_name_known_topics(root: Path) -> list[str]:
    topology = _topology(root)
    topics = set(topology.get("topics") or {})
    problems = []
    for name, spec in (topology.get("functions") or {}).items():
        for topic in spec.get("publishes") or []:
            if topic not in topics:
                problems.append(f"function {name!r} publishes to {topic!r}, which is not a topic of topology.yaml")
        if spec.get("trigger") == "topic" and spec.get("topic") not in topics:
            problems.append(f"function {name!r} is triggered by {spec.get('topic')!r}, which is not a topic of topology.yaml")
        pushed = {n for n, f in (topology.get("functions") or {}).items() if f.get("trigger") == "topic"}
        for other in spec.get("dead_letters_of") or []:
            if other not in pushed:
                problems.append(f"function {name!r} publishes the dead letters of {other!r}, which is not a "
                                "topic-triggered function (it has no dead-letter topic)")
    return problems


def terraform_function_names(root: Path) -> set[str]:
    """Names of the functions Terraform deploys, resolving the for_each over topology.yaml."""
    functions = _topology(root).get("functions", {})
    by_selector = {
        "local.http_functions": {n for n, f in functions.items() if f.get("trigger") == "http"},
        "local.pushed_functions": {n for n, f in functions.items() if f.get("trigger") == "topic"},
    }
    local_defs = _locals(root)
    problems = []
    if "yamldecode(file(" not in str(local_defs.get("topology", "")) or "topology.yaml" not in str(local_defs.get("topology", "")):
        problems.append("locals.topology is not read from topology.yaml")
    for selector, trigger in (("http_functions", '"http"'), ("pushed_functions", '"topic"')):
        if f"f.trigger == {trigger}" not in str(local_defs.get(selector, "")):
            problems.append(f"locals.{selector} does not select trigger {trigger}")
    if problems:
        raise ValueError("; ".join(problems))
    names: set[str] = set()
    for block in terraform_blocks(root):
        if block.file.parent.parent.name == "modules":
            continue  # a module's own function is counted through the root's module block
        deploys = block.kind == "google_cloudfunctions2_function" or (
            block.kind == "module" and str(block.body.get("source", "")).endswith(FUNCTION_MODULES))
        if not deploys:
            continue
        selector = _for_each(block).strip("${}")
        if selector in by_selector:
            names |= by_selector[selector]
        elif not selector:
            names.add(str(block.body.get("name", block.name)))
    return names


def check_terraform_deploys_every_function(root: Path) -> list[str]:
    folders = {p.parent.name for p in (root / "functions").glob("*/main.py")}
    try:
        deployed = terraform_function_names(root)
    except ValueError as exc:
        return [str(exc)]
    return ([f"functions/{n}/ has no Cloud Function resource in Terraform" for n in sorted(folders - deployed)]
            + [f"Terraform deploys {n!r} but functions/{n}/ does not exist" for n in sorted(deployed - folders)])


def check_push_subscriptions_have_policies(root: Path) -> list[str]:
    problems = []
    for block in terraform_blocks(root):
        if block.kind == "google_pubsub_subscription" and "push_config" in block.body:
            for policy in ("retry_policy", "dead_letter_policy"):
                if not block.body.get(policy):
                    problems.append(f"push subscription {block.name} ({block.file.name}) has no {policy}")
            push = block.body["push_config"][0]
            if not push.get("oidc_token"):
                problems.append(f"push subscription {block.name} ({block.file.name}) pushes without an OIDC token")
    return problems


def expiring_collections_in_code(root: Path) -> set[str]:
    """Collections named by a *COLLECTION* constant in a module of shared/ that writes expireAt."""
    found: set[str] = set()
    for path in (root / "shared").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if "expireAt" in text:
            found |= set(COLLECTION_CONSTANT.findall(text))
    return found


def check_ttl_policies(root: Path) -> list[str]:
    declared = set((_topology(root).get("firestore") or {}).get("ttl_collections") or [])
    problems = [f"collection {c!r} is written with expireAt but has no TTL policy (topology.yaml "
                f"firestore.ttl_collections)" for c in sorted(expiring_collections_in_code(root) - declared)]
    ttl_fields = [b for b in terraform_blocks(root) if b.kind == "google_firestore_field" and b.body.get("ttl_config") is not None]
    if declared and not any("local.ttl_collections" in _for_each(b) and b.body.get("field") == "expireAt" for b in ttl_fields):
        problems.append("no google_firestore_field with ttl_config on expireAt for each of local.ttl_collections")
    return problems


def check_only_beacon_is_public(root: Path) -> list[str]:
    problems = []
    public = {n for n, f in (_topology(root).get("functions") or {}).items() if f.get("public")}
    problems += [f"function {n!r} is public in topology.yaml; only {sorted(ALLOWED_PUBLIC_FUNCTIONS)} may be"
                 for n in sorted(public - ALLOWED_PUBLIC_FUNCTIONS)]
    for block in terraform_blocks(root):
        if block.body.get("member") in PUBLIC_MEMBERS or any(m in PUBLIC_MEMBERS for m in block.body.get("members", [])):
            if "local.public_functions" not in _for_each(block):
                problems.append(f"{block.kind}.{block.name} grants public access outside local.public_functions")
    return problems


def check_scheduled_functions_have_jobs(root: Path) -> list[str]:
    """Each function with a `schedule` in topology.yaml gets a Cloud Scheduler job over
    local.scheduled_functions, calling its path with an OIDC token."""
    scheduled = {n for n, f in (_topology(root).get("functions") or {}).items() if f.get("schedule")}
    if not scheduled:
        return []
    jobs = [b for b in terraform_blocks(root) if b.kind == "google_cloud_scheduler_job"
            and "local.scheduled_functions" in _for_each(b)]
    if not jobs:
        return [f"no google_cloud_scheduler_job for each of local.scheduled_functions ({', '.join(sorted(scheduled))})"]
    problems = []
    for job in jobs:
        target = (job.body.get("http_target") or [{}])[0]
        if "schedule.path" not in str(target.get("uri", "")):
            problems.append(f"scheduler job {job.name} does not call the schedule's path")
        if not target.get("oidc_token"):
            problems.append(f"scheduler job {job.name} calls without an OIDC token")
    return problems


def check_no_primitive_roles(root: Path) -> list[str]:
    problems = []
    for path in sorted((root / "terraform").rglob("*.tf")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if PRIMITIVE_ROLES.search(line) and not line.lstrip().startswith("#"):
                problems.append(f"{path.relative_to(root)}:{number} uses a primitive role")
    return problems


def terraform_pubsub_names(root: Path) -> tuple[set[str], set[str]]:
    """(topics, push subscriptions) Terraform creates, by resolving its for_each over topology.yaml."""
    topology = _topology(root)
    pushed = {n for n, f in (topology.get("functions") or {}).items() if f.get("trigger") == "topic"}
    topics: set[str] = set()
    subscriptions: set[str] = set()
    for block in terraform_blocks(root):
        if block.kind == "google_pubsub_topic":
            if block.file.parent.name == "pushed_function":
                template = str(block.body["name"])
                topics |= {template.replace(MODULE_FUNCTION_NAME, n) for n in pushed}
            elif "local.topics" in _for_each(block):
                topics |= set(topology.get("topics") or {})
            elif not _for_each(block):
                topics.add(str(block.body["name"]))
        if block.kind == "google_pubsub_subscription" and "push_config" in block.body \
                and block.file.parent.name == "pushed_function":
            subscriptions |= {str(block.body["name"]).replace(MODULE_FUNCTION_NAME, n) for n in pushed}
    return topics, subscriptions


def terraform_hold_subscription_names(root: Path) -> set[str]:
    """Pull subscriptions Terraform creates to keep each dead-letter topic's messages."""
    topology = _topology(root)
    pushed = {n for n, f in (topology.get("functions") or {}).items() if f.get("trigger") == "topic"}
    suffix = str((topology.get("dead_letters") or {}).get("hold_subscription_suffix", ""))
    names: set[str] = set()
    for block in terraform_blocks(root):
        template = str(block.body.get("dead_letter_hold_name", ""))
        if block.kind == "module" and template:
            template = template.replace("${local.topology.dead_letters.hold_subscription_suffix}", suffix)
            names |= {template.replace("${each.key}", n) for n in pushed}
    return names


def check_local_stack_matches_terraform(root: Path) -> list[str]:
    from tools import topology as local_topology

    local = local_topology.load(root / "topology.yaml")
    local_topics = set(local.topics) | set(local.dead_letter_topics)
    local_subscriptions = {s.name for s in local.subscriptions}
    tf_topics, tf_subscriptions = terraform_pubsub_names(root)
    problems = []
    if local_topics != tf_topics:
        problems.append(f"topics differ: local stack only {sorted(local_topics - tf_topics)}, "
                        f"Terraform only {sorted(tf_topics - local_topics)}")
    if local_subscriptions != tf_subscriptions:
        problems.append(f"push subscriptions differ: local stack only {sorted(local_subscriptions - tf_subscriptions)}, "
                        f"Terraform only {sorted(tf_subscriptions - local_subscriptions)}")
    local_holds = {h.name for h in local.hold_subscriptions}
    tf_holds = terraform_hold_subscription_names(root)
    if local_holds != tf_holds:
        problems.append(f"dead-letter hold subscriptions differ: local stack only {sorted(local_holds - tf_holds)}, "
                        f"Terraform only {sorted(tf_holds - local_holds)}")
    return problems


# -- deployment on a real project: dependencies, identities, lifecycle ---------------------------

API_ENABLEMENT = "google_project_service.required"
# Resources whose creation fails while their APIs (IAM, Cloud Resource Manager) are still off.
NEEDS_APIS = ("google_service_account", "google_project_iam_member")


def _depends_on(block: Resource) -> str:
    return " ".join(str(d) for d in block.body.get("depends_on", []))


def _root_module_blocks(root: Path) -> list[Resource]:
    return [b for b in terraform_blocks(root) if b.kind == "module" and b.file.parent == root / "terraform"]


def check_identities_wait_for_apis(root: Path) -> list[str]:
    """Service accounts and project IAM members are created after the APIs are enabled: each
    depends on google_project_service.required, directly or through its root module block."""
    problems = []
    module_waits: dict[Path, bool] = {}
    for block in _root_module_blocks(root):
        directory = (root / "terraform" / str(block.body.get("source", ""))).resolve()
        module_waits[directory] = module_waits.get(directory, True) and API_ENABLEMENT in _depends_on(block)
    for block in terraform_blocks(root):
        if block.kind not in NEEDS_APIS:
            continue
        if block.file.parent == root / "terraform":
            waits = API_ENABLEMENT in _depends_on(block)
        else:
            waits = module_waits.get(block.file.parent.resolve(), False)
        if not waits:
            problems.append(f"{block.kind}.{block.name} ({block.file.relative_to(root)}) does not depend on "
                            f"{API_ENABLEMENT}")
    return problems


def check_project_read_after_apis(root: Path) -> list[str]:
    """data.google_project needs the Cloud Resource Manager API: enabled by Terraform too, and
    the read waits for the enablement."""
    problems = []
    for path in sorted((root / "terraform").glob("*.tf")):
        parsed = _load_hcl(path)
        for entry in parsed.get("data", []):
            for name, body in (entry.get("google_project") or {}).items():
                if API_ENABLEMENT not in " ".join(str(d) for d in body.get("depends_on", [])):
                    problems.append(f"data.google_project.{name} is read before {API_ENABLEMENT}")
        for entry in parsed.get("resource", []):
            for name, body in (entry.get("google_project_service") or {}).items():
                if "cloudresourcemanager.googleapis.com" not in str(body.get("for_each", "")):
                    problems.append(f"google_project_service.{name} does not enable cloudresourcemanager.googleapis.com")
    return problems


def check_push_subscriptions_wait_for_grants(root: Path) -> list[str]:
    """A push subscription starts pushing when created: it depends on the invoker grant of its
    pusher and on the grant that lets the Pub/Sub agent sign as the pusher."""
    problems = []
    for block in terraform_blocks(root):
        if block.kind == "google_pubsub_subscription" and "push_config" in block.body:
            needs = _depends_on(block)
            for kind, what in (("google_cloud_run_service_iam_member.", "the pusher's run.invoker grant"),
                               ("google_service_account_iam_member.", "the agent's token-creator grant on the pusher")):
                if kind not in needs:
                    problems.append(f"push subscription {block.name} ({block.file.name}) does not depend on {what}")
    return problems


def check_functions_build_as_their_account(root: Path) -> list[str]:
    """Every function names its build service account (never the project's default build account)."""
    problems = []
    for block in terraform_blocks(root):
        if block.kind == "google_cloudfunctions2_function":
            build = (block.body.get("build_config") or [{}])[0]
            if not build.get("service_account"):
                problems.append(f"{block.kind}.{block.name} ({block.file.name}) has no build_config.service_account")
    return problems


def check_versioned_buckets_expire_old_versions(root: Path) -> list[str]:
    """A versioned bucket deletes noncurrent versions by age. (num_newer_versions alone never
    fires for objects named after their content: no name ever gets a newer version.)"""
    problems = []
    for block in terraform_blocks(root):
        if block.kind != "google_storage_bucket":
            continue
        if not any(v.get("enabled") for v in block.body.get("versioning", [])):
            continue
        by_age = [r for r in block.body.get("lifecycle_rule", [])
                  if any(k in (r.get("condition") or [{}])[0] for k in ("days_since_noncurrent_time", "noncurrent_time_before"))
                  and (r.get("action") or [{}])[0].get("type") == "Delete"]
        if not by_age:
            problems.append(f"versioned bucket {block.name} ({block.file.name}) never deletes noncurrent versions by age")
    return problems


CHECKS = [
    check_functions_match_topology,
    check_function_grants_name_known_topics,
    check_terraform_deploys_every_function,
    check_push_subscriptions_have_policies,
    check_ttl_policies,
    check_only_beacon_is_public,
    check_scheduled_functions_have_jobs,
    check_no_primitive_roles,
    check_local_stack_matches_terraform,
    check_identities_wait_for_apis,
    check_project_read_after_apis,
    check_push_subscriptions_wait_for_grants,
    check_functions_build_as_their_account,
    check_versioned_buckets_expire_old_versions,
]


def _pipeline_checks() -> list:
    from tools import pipeline_checks  # the Makefile, cloudbuild.yaml and system-parts.toml

    return pipeline_checks.CHECKS


def _monitoring_checks() -> list:
    from tools import monitoring_checks  # metrics, alerts and the dashboard (modules/monitoring)

    return monitoring_checks.CHECKS


CHECKS += _pipeline_checks() + _monitoring_checks()


def run_all(root: Path = REPO_ROOT) -> list[str]:
    return [f"{check.__name__}: {problem}" for check in CHECKS for problem in check(root)]


if __name__ == "__main__":
    found = run_all()
    for line in found:
        print(line)
    print(f"{len(CHECKS)} checks, {len(found)} problems")
    sys.exit(1 if found else 0)
