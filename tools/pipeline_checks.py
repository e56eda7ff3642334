"""Offline checks that the Makefile, cloudbuild.yaml and system-parts.toml agree.

system-parts.toml declares what each make target needs from the system and what each pipeline
image has; these checks make sure every make target checks its parts first, and that every
Cloud Build step running ``make X`` provides what X needs (from its image, apt, or a file an
earlier step made), so the pipeline cannot stop at a missing tool. Run with the other offline
checks by ``python -m tools.infra_checks``; each returns a list of problems.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from tools import system_check

MAKE_CALL = re.compile(r"\bmake\s+([a-z][\w-]*)")
RULE = re.compile(r"^([A-Za-z0-9][\w.%-]*)\s*:(?!=)\s*(.*)$", re.M)
PHONY = re.compile(r"^\.PHONY:\s*((?:.*\\\n)*.*)$", re.M)
# Make targets that are helpers, not goals of their own.
HELPER_TARGETS = {"clean", "check-python", "check-system"}
TERRAFORM_IMAGE = "hashicorp/terraform:"
PLAN_STEP = "terraform-plan"
SETTINGS_ARG = "-var-file=${_TFVARS}"


def _build(root: Path) -> dict[str, Any]:
    return yaml.safe_load((root / "cloudbuild.yaml").read_text(encoding="utf-8"))


def _script(step: dict[str, Any]) -> str:
    return " ".join(str(a) for a in step.get("args", []))


def _ancestors(steps: list[dict[str, Any]], index: int) -> set[str]:
    """Ids of the steps that finish before steps[index] starts (waitFor; none given: all before)."""
    by_id = {s.get("id"): i for i, s in enumerate(steps)}
    seen: set[str] = set()
    pending = [index]
    while pending:
        i = pending.pop()
        waits = steps[i].get("waitFor")
        before = [steps[j].get("id") for j in range(i)] if waits is None else [w for w in waits if w != "-"]
        for step_id in before:
            if step_id not in seen and step_id in by_id:
                seen.add(step_id)
                pending.append(by_id[step_id])
    return seen


def check_make_steps_provide_their_targets(root: Path) -> list[str]:
    declaration = system_check.load(root / "system-parts.toml")
    steps = _build(root).get("steps", [])
    problems = []
    for index, step in enumerate(steps):
        script = _script(step)
        for target in MAKE_CALL.findall(script):
            where = f"step {step.get('id')!r} (make {target})"
            if target not in declaration.targets:
                problems.append(f"{where}: target {target!r} is not declared in system-parts.toml [targets]")
                continue
            image = step.get("name", "")
            if image not in declaration.images:
                problems.append(f"{where}: image {image!r} is not declared in system-parts.toml [images]")
                continue
            provide = script.find(f"tools.system_check provide {target}")
            if provide < 0 or provide > script.find(f"make {target}"):
                problems.append(f"{where}: does not run `python3 -m tools.system_check provide {target}` before make")
            for part in declaration.needs(target):
                if part.name in declaration.images[image] or part.apt:
                    continue
                if part.copy_from:
                    maker = next((s for s in steps if s.get("id") == part.copy_made_by_step), None)
                    if maker is None or part.copy_made_by_step not in _ancestors(steps, index):
                        problems.append(f"{where}: needs {part.name}, which step {part.copy_made_by_step!r} "
                                        f"provides, but that step does not run before it")
                    elif part.name not in declaration.images.get(maker.get("name", ""), []) \
                            or part.copy_from not in _script(maker):
                        problems.append(f"{where}: step {part.copy_made_by_step!r} does not copy {part.name} "
                                        f"from its image to {part.copy_from}")
                    continue
                problems.append(f"{where}: needs {part.name}, which image {image!r} lacks and "
                                f"system-parts.toml gives no way to install")
    return problems


def check_one_terraform_version(root: Path) -> list[str]:
    version = system_check.load(root / "system-parts.toml").parts["terraform"].version
    return [f"step {s.get('id')!r} uses {s['name']}, but system-parts.toml pins terraform {version}"
            for s in _build(root).get("steps", [])
            if str(s.get("name", "")).startswith(TERRAFORM_IMAGE) and s["name"] != f"{TERRAFORM_IMAGE}{version}"]


def check_plan_reads_the_operator_settings(root: Path) -> list[str]:
    """The plan takes the operator's settings from one place: the tfvars file of _TFVARS."""
    build = _build(root)
    plan = next((s for s in build.get("steps", []) if s.get("id") == PLAN_STEP), None)
    if plan is None:
        return [f"cloudbuild.yaml has no step {PLAN_STEP!r}"]
    args = [str(a) for a in plan.get("args", [])]
    problems = []
    if SETTINGS_ARG not in args:
        problems.append(f"step {PLAN_STEP!r} does not pass {SETTINGS_ARG}")
    if "_TFVARS" not in (build.get("substitutions") or {}):
        problems.append("cloudbuild.yaml has no substitution _TFVARS (the operator's settings file)")
    others = [a for a in args if a.startswith("-var=") and not a.startswith("-var=project_id=")]
    problems += [f"step {PLAN_STEP!r} sets {a}: operator settings belong in the tfvars file" for a in others]
    return problems


def makefile_rules(root: Path) -> dict[str, list[str]]:
    text = (root / "Makefile").read_text(encoding="utf-8")
    return {m.group(1): m.group(2).split() for m in RULE.finditer(text) if not m.group(1).startswith("$")}


def check_make_targets_check_their_system(root: Path) -> list[str]:
    declaration = system_check.load(root / "system-parts.toml")
    text = (root / "Makefile").read_text(encoding="utf-8")
    rules = makefile_rules(root)
    phony = set(" ".join(PHONY.findall(text)).replace("\\", " ").split())
    problems = []
    for target in sorted(declaration.targets):
        if target not in rules:
            problems.append(f"system-parts.toml declares target {target!r}, which the Makefile does not have")
        elif rules[target][:1] != [f"check-system-{target}"]:
            problems.append(f"make {target} does not run check-system-{target} first")
    problems += [f"make {t} is not declared in system-parts.toml [targets] (what it needs is checked nowhere)"
                 for t in sorted(phony - HELPER_TARGETS - set(declaration.targets))]
    return problems


CHECKS = [
    check_make_steps_provide_their_targets,
    check_one_terraform_version,
    check_plan_reads_the_operator_settings,
    check_make_targets_check_their_system,
]
