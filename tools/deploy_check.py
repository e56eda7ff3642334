"""The operator's settings, before and after the pipeline's Terraform steps.

    python -m tools.deploy_check check --project P [--tfvars FILE]       # make deploy-check (offline)
    python -m tools.deploy_check preflight --project P [--tfvars FILE]   # check, then org policies (gcloud)
    python -m tools.deploy_check post-apply --project P [--tfvars FILE]  # what Terraform cannot set (gcloud)

``check`` renders the ``terraform plan`` command of cloudbuild.yaml's plan step with the values
the pipeline would give it (the project, the tfvars file of substitution ``_TFVARS``), names
every operator setting that file lacks, then runs Terraform's own checks of the settings: the
files of terraform/ that need no provider (PROVIDER_FREE) are planned and applied in a scratch
copy, offline, with the same arguments, and the derived per-function settings are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2
import yaml
from hcl2.utils import SerializationOptions

REPO_ROOT = Path(__file__).resolve().parent.parent
PLAN_STEP = "terraform-plan"
# What of terraform/ needs no provider: variables, settings.tf, modules/settings and
# modules/monitoring. Copied with ../topology.yaml into a scratch directory, they plan offline like
# the real configuration would.
PROVIDER_FREE = ("variables.tf", "settings.tf", "modules/settings", "modules/monitoring")
HARNESS_OUTPUTS = """
output "functions" {
  value = module.settings.functions
}
output "push" {
  value = module.settings.push
}
output "private_invokers" {
  value = module.settings.private_invokers
}
output "monitoring" {
  value = module.monitoring
}
output "variables" {
  value = {
    region                      = var.region
    beacon_public_access        = var.beacon_public_access
    partner_secret_ids          = var.partner_secret_ids
    alert_notification_channels = var.alert_notification_channels
  }
}
"""
TERRAFORM_ENV = {"TF_CLI_CONFIG_FILE": "/dev/null", "CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1"}
DRS_CONSTRAINT = "constraints/iam.allowedPolicyMemberDomains"
BEACON_SERVICE = "beacon"


def _hcl(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        return hcl2.load(handle, serialization_options=SerializationOptions(strip_string_quotes=True,
                                                                            explicit_blocks=False))


@dataclass
class PlanInputs:
    """What the pipeline's plan step gets: its arguments with the substitutions filled in."""
    args: list[str]
    tfvars: Path | None
    var_args: dict[str, str] = field(default_factory=dict)

    def command(self) -> str:
        return "terraform " + " ".join(self.args)


def pipeline_plan_step(root: Path) -> tuple[list[str], dict[str, str]]:
    build = yaml.safe_load((root / "cloudbuild.yaml").read_text(encoding="utf-8"))
    steps = {s.get("id"): s for s in build.get("steps", [])}
    if PLAN_STEP not in steps:
        raise SystemExit(f"error: cloudbuild.yaml has no step {PLAN_STEP!r}")
    return [str(a) for a in steps[PLAN_STEP].get("args", [])], dict(build.get("substitutions") or {})


def substitute(text: str, values: dict[str, str]) -> str:
    def one(match: re.Match) -> str:
        name = match.group(1) or match.group(2)
        if name not in values:
            raise SystemExit(f"error: cloudbuild.yaml's plan step uses ${name}, which has no value here")
        return values[name]
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", one, text)


def plan_inputs(root: Path, project: str, tfvars: Path | None) -> PlanInputs:
    """The plan step's arguments as the pipeline would run them (paths relative to terraform/)."""
    args, substitutions = pipeline_plan_step(root)
    values = {**substitutions, "PROJECT_ID": project}
    if tfvars is not None:
        values["_TFVARS"] = os.path.relpath(tfvars.resolve(), (root / "terraform").resolve())
    rendered = [substitute(a, values) for a in args]
    inputs = PlanInputs(rendered, None)
    for arg in rendered:
        if arg.startswith("-var-file="):
            inputs.tfvars = (root / "terraform" / arg.split("=", 1)[1]).resolve()
        elif arg.startswith("-var="):
            name, _, value = arg[len("-var="):].partition("=")
            inputs.var_args[name] = value
    return inputs


def declared_variables(root: Path) -> dict[str, dict[str, Any]]:
    return {name: body for block in _hcl(root / "terraform" / "variables.tf").get("variable", [])
            for name, body in block.items()}


def missing_settings(root: Path, inputs: PlanInputs) -> list[str]:
    """Every variable without a default that neither the tfvars file nor a -var gives."""
    given: set[str] = set(inputs.var_args)
    if inputs.tfvars is not None and inputs.tfvars.exists():
        given |= set(_hcl(inputs.tfvars))
    problems = []
    for name, body in declared_variables(root).items():
        if "default" not in body and name not in given:
            problems.append(f"missing operator setting {name!r}: {body.get('description', '')}")
    return problems


def read_settings(inputs: PlanInputs) -> dict[str, Any]:
    return _hcl(inputs.tfvars) if inputs.tfvars is not None and inputs.tfvars.exists() else {}


def terraform_validate(root: Path, inputs: PlanInputs) -> tuple[bool, str, dict[str, Any]]:
    """Apply the provider-free part of terraform/ with the plan's arguments, in a scratch copy:
    every variable validation and module.settings check runs, with no provider and no network."""
    terraform = shutil.which("terraform")
    if terraform is None:
        return False, "terraform not found on PATH (make check-system-deploy-check)", {}
    with tempfile.TemporaryDirectory(prefix="deploy-check-") as scratch:
        work = Path(scratch) / "terraform"
        work.mkdir()
        shutil.copy2(root / "topology.yaml", Path(scratch) / "topology.yaml")
        for name in PROVIDER_FREE:
            source = root / "terraform" / name
            if source.is_dir():
                shutil.copytree(source, work / name)
            else:
                shutil.copy2(source, work / name)
        (work / "deploy_check_outputs.tf").write_text(HARNESS_OUTPUTS, encoding="utf-8")
        args = [a for a in inputs.args[1:] if a.startswith("-var=")]
        if inputs.tfvars is not None:
            args.append(f"-var-file={inputs.tfvars}")
        env = {**os.environ, **TERRAFORM_ENV}
        init = subprocess.run([terraform, "init", "-backend=false", "-input=false", "-no-color"], cwd=work,
                              capture_output=True, text=True, env=env)
        if init.returncode != 0:
            return False, init.stdout + init.stderr, {}
        apply = subprocess.run([terraform, "apply", "-auto-approve", "-input=false", "-no-color", *args], cwd=work,
                               capture_output=True, text=True, env=env)
        if apply.returncode != 0:
            return False, _diagnostics(apply.stderr or apply.stdout), {}
        out = subprocess.run([terraform, "output", "-json", "-no-color"], cwd=work, capture_output=True,
                             text=True, env=env)
        values = {k: v["value"] for k, v in json.loads(out.stdout or "{}").items()}
        return True, "", values


def _diagnostics(text: str) -> str:
    """Terraform's errors, without the scratch directory's file excerpts."""
    return "\n".join(line for line in text.strip().splitlines() if not line.startswith(("  on ", "  with "))).strip()


def check(root: Path, project: str | None, tfvars: Path | None, out=print) -> int:
    problems: list[str] = []
    if not project:
        problems.append("no project: pass --project (make deploy-check PROJECT_ID=<project>); the pipeline "
                        "uses the build's project")
        project = "PROJECT_ID"
    inputs = plan_inputs(root, project, tfvars)
    out(f"the pipeline's plan (in terraform/): {inputs.command()}")
    if inputs.tfvars is None:
        problems.append("cloudbuild.yaml's plan step passes no -var-file: the operator's settings are not read")
    elif not inputs.tfvars.exists():
        problems.append(f"{inputs.tfvars} does not exist: copy terraform/environments/example.tfvars there "
                        f"and fill it in (README, \"Deploying\")")
    problems += missing_settings(root, inputs)
    if problems:
        for p in problems:
            out(f"error: {p}")
        return 1
    ok, message, values = terraform_validate(root, inputs)
    if not ok:
        out("error: Terraform refuses these settings:")
        out(message)
        return 1
    _show(values, out)
    out("deploy-check: every operator setting is given and passes Terraform's checks")
    return 0


def _show(values: dict[str, Any], out) -> None:
    settings = values.get("variables", {})
    out(f"region {settings.get('region')}; beacon public access: {settings.get('beacon_public_access')}; "
        f"partner secrets: {', '.join(settings.get('partner_secret_ids') or []) or 'none'}; "
        f"alert channels: {len(settings.get('alert_notification_channels') or [])}")
    invokers: dict[str, list[str]] = {}
    for pair in values.get("private_invokers", {}).values():
        invokers.setdefault(pair["function"], []).append(pair["member"])
    push = values.get("push", {})
    for name, f in sorted(values.get("functions", {}).items()):
        line = (f"  {name:<16} {f['memory']:>6} timeout {f['timeout_seconds']}s concurrency {f['concurrency']} "
                f"max {f['max_instances']} as {f['service_account_id']}")
        if name in push:
            line += f"; push ack deadline {push[name]['ack_deadline_seconds']}s, {push[name]['max_delivery_attempts']} attempts"
        if name in invokers:
            line += f"; invokers {', '.join(sorted(invokers[name]))}"
        if "BEACON_ALLOWED_ORIGINS" in f["environment"]:
            line += f"; origins {f['environment']['BEACON_ALLOWED_ORIGINS']}"
        out(line)
    policies = values.get("monitoring", {}).get("alert_policies", {})
    for _, policy in sorted(policies.items()):
        out(f"  alert \"{policy['display_name']}\" when: " + "; ".join(c["display_name"] for c in policy["conditions"]))


# -- online parts (gcloud, in the pipeline) ------------------------------------------------------

def restricts_all_users(policy: dict[str, Any]) -> bool:
    """Whether an effective iam.allowedPolicyMemberDomains policy (``gcloud resource-manager
    org-policies describe --effective --format=json``) refuses allUsers: any allow-list of
    customer ids, or deny-all. No list policy, or allow-all, lets allUsers through."""
    listed = policy.get("listPolicy") or {}
    if listed.get("allValues") == "ALLOW":
        return False
    return bool(listed.get("allowedValues")) or listed.get("allValues") == "DENY"


def _gcloud(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(["gcloud", *args], capture_output=True, text=True)


def preflight(root: Path, project: str | None, tfvars: Path | None, out=print, gcloud=_gcloud) -> int:
    if check(root, project, tfvars, out) != 0:
        return 1
    inputs = plan_inputs(root, project or "", tfvars)
    access = read_settings(inputs).get("beacon_public_access", "allUsers")
    if access != "allUsers":
        out(f"preflight: beacon_public_access is {access!r}: no allUsers grant, nothing to check against org policies")
        return 0
    answer = gcloud(["resource-manager", "org-policies", "describe", DRS_CONSTRAINT, f"--project={project}",
                     "--effective", "--format=json"])
    if answer.returncode != 0:
        first = (answer.stderr.strip().splitlines() or ["no message"])[0]
        out(f"warning: could not read the effective {DRS_CONSTRAINT} of {project} ({first}); if Domain Restricted "
            f"Sharing holds there, apply will fail on beacon's allUsers grant (README, \"Org policies\")")
        return 0
    if restricts_all_users(json.loads(answer.stdout or "{}")):
        out(f"error: the org policy {DRS_CONSTRAINT} (Domain Restricted Sharing) holds on {project}: it refuses "
            f"beacon's allUsers invoker grant, so apply would fail half-way. Set beacon_public_access = "
            f"\"invoker-iam-check-disabled\" in {inputs.tfvars}, or have the organisation exempt the project "
            f"(README, \"Org policies\").")
        return 1
    out(f"preflight: {DRS_CONSTRAINT} allows beacon's allUsers grant on {project}")
    return 0


def post_apply(root: Path, project: str | None, tfvars: Path | None, out=print, gcloud=_gcloud) -> int:
    if not project:
        out("error: no project: pass --project")
        return 1
    inputs = plan_inputs(root, project, tfvars)
    settings = read_settings(inputs)
    if settings.get("beacon_public_access", "allUsers") != "invoker-iam-check-disabled":
        out("post-apply: nothing to do (beacon is public through its allUsers grant)")
        return 0
    region = settings.get("region") or declared_variables(root)["region"]["default"]
    answer = gcloud(["run", "services", "update", BEACON_SERVICE, f"--project={project}", f"--region={region}",
                     "--no-invoker-iam-check", "--quiet"])
    if answer.returncode != 0:
        out(f"error: could not turn off the invoker IAM check of {BEACON_SERVICE}: {answer.stderr.strip()}")
        return 1
    out(f"post-apply: {BEACON_SERVICE} answers without an invoker IAM check (beacon_public_access)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.deploy_check", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["check", "preflight", "post-apply"])
    parser.add_argument("--project", default=os.environ.get("GOOGLE_CLOUD_PROJECT"),
                        help="the project the pipeline deploys to (default: GOOGLE_CLOUD_PROJECT)")
    parser.add_argument("--tfvars", type=Path, default=None,
                        help="the operator's settings (default: cloudbuild.yaml's _TFVARS, relative to terraform/)")
    args = parser.parse_args(argv)
    run = {"check": check, "preflight": preflight, "post-apply": post_apply}[args.command]
    return run(REPO_ROOT, args.project, args.tfvars)


if __name__ == "__main__":
    sys.exit(main())
