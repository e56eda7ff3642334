"""system-parts.toml, the Makefile and cloudbuild.yaml agree: every make target checks its
system parts first, and every pipeline step running `make X` provides what X needs. Checked on
the real tree and on broken copies; tools/system_check.py on fake parts."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tools import pipeline_checks, system_check

ROOT = system_check.REPO_ROOT


def test_the_tree_passes_every_pipeline_check():
    assert [p for check in pipeline_checks.CHECKS for p in check(ROOT)] == []


def test_this_machine_has_every_part_make_test_needs():
    # Only `test`'s: the pipeline's test step provides those alone (wrk, for `make bench`, is not on its image).
    assert system_check.check("test", system_check.load()) == []


def test_bench_names_wrk_and_how_to_install_it():
    declaration = system_check.load()
    wrk = declaration.parts["wrk"]
    assert wrk in declaration.needs("bench") and wrk.apt == "wrk" and "apt-get install -y wrk" in wrk.why


def test_the_pipeline_runs_test_package_preflight_and_post_apply_through_make():
    steps = yaml.safe_load((ROOT / "cloudbuild.yaml").read_text())["steps"]
    made = {t for s in steps for t in pipeline_checks.MAKE_CALL.findall(pipeline_checks._script(s))}
    assert made == {"test", "package", "preflight", "post-apply"}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for name in ("cloudbuild.yaml", "Makefile", "system-parts.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def test_a_step_that_runs_make_without_providing_is_caught(tree):
    _edit(tree / "cloudbuild.yaml", "python3 -m tools.system_check provide test && make test", "make test")
    assert pipeline_checks.check_make_steps_provide_their_targets(tree) == [
        "step 'test' (make test): does not run `python3 -m tools.system_check provide test` before make"]


def test_a_step_that_starts_before_terraform_is_copied_is_caught(tree):
    _edit(tree / "cloudbuild.yaml", 'waitFor: ["terraform-binary"]', 'waitFor: ["-"]')
    # preflight waits for test, so it loses terraform too.
    assert pipeline_checks.check_make_steps_provide_their_targets(tree) == [
        f"step {step!r} (make {step}): needs terraform, which step 'terraform-binary' provides, "
        "but that step does not run before it" for step in ("test", "preflight")]


def test_a_terraform_copy_to_the_wrong_place_is_caught(tree):
    _edit(tree / "cloudbuild.yaml", "build/bin/terraform", "bin/terraform")
    problems = pipeline_checks.check_make_steps_provide_their_targets(tree)
    assert "step 'test' (make test): step 'terraform-binary' does not copy terraform from its image to " \
           "build/bin/terraform" in problems


def test_a_part_with_no_way_to_install_it_is_caught(tree):
    _edit(tree / "system-parts.toml", 'why = "the targets are make targets"\napt = "make"',
          'why = "the targets are make targets"')
    problems = pipeline_checks.check_make_steps_provide_their_targets(tree)
    assert "step 'package' (make package): needs make, which image " \
           "'gcr.io/google.com/cloudsdktool/google-cloud-cli:emulators' lacks and system-parts.toml gives " \
           "no way to install" in problems


def test_a_step_on_an_undeclared_image_is_caught(tree):
    _edit(tree / "cloudbuild.yaml", "  - id: package\n    name: gcr.io/google.com/cloudsdktool/google-cloud-cli:emulators",
          "  - id: package\n    name: python:3.12-slim")
    assert pipeline_checks.check_make_steps_provide_their_targets(tree) == [
        "step 'package' (make package): image 'python:3.12-slim' is not declared in system-parts.toml [images]"]


def test_a_second_terraform_version_is_caught(tree):
    _edit(tree / "cloudbuild.yaml", "  - id: terraform-apply\n    name: hashicorp/terraform:1.11.4",
          "  - id: terraform-apply\n    name: hashicorp/terraform:1.10.0")
    assert pipeline_checks.check_one_terraform_version(tree) == [
        "step 'terraform-apply' uses hashicorp/terraform:1.10.0, but system-parts.toml pins terraform 1.11.4"]


def test_a_plan_without_the_operator_settings_file_is_caught(tree):
    _edit(tree / "cloudbuild.yaml", "      - -var-file=${_TFVARS}\n", "      - -var=region=europe-west1\n")
    assert pipeline_checks.check_plan_reads_the_operator_settings(tree) == [
        "step 'terraform-plan' does not pass -var-file=${_TFVARS}",
        "step 'terraform-plan' sets -var=region=europe-west1: operator settings belong in the tfvars file"]


def test_a_make_target_that_skips_its_check_is_caught(tree):
    _edit(tree / "Makefile", "package: check-system-package $(INSTALLED)", "package: $(INSTALLED)")
    assert pipeline_checks.check_make_targets_check_their_system(tree) == [
        "make package does not run check-system-package first"]


def test_an_undeclared_make_target_is_caught(tree):
    _edit(tree / "Makefile", ".PHONY: demo test", ".PHONY: lint demo test")
    with (tree / "Makefile").open("a") as makefile:
        makefile.write("\nlint: $(INSTALLED)\n\t$(PY) -m ruff check .\n")
    assert pipeline_checks.check_make_targets_check_their_system(tree) == [
        "make lint is not declared in system-parts.toml [targets] (what it needs is checked nowhere)"]


# -- tools/system_check.py on fake parts ---------------------------------------------------------

def _declaration(tmp_path: Path, parts: str, targets: str) -> system_check.Declaration:
    path = tmp_path / "parts.toml"
    path.write_text(parts + "\n[targets]\n" + targets + "\n")
    return system_check.load(path)


def test_a_missing_part_is_named_with_its_reason(tmp_path):
    declaration = _declaration(tmp_path, '[parts.frob]\ncommand = "frob-no-such-tool"\nwhy = "frobs the widgets"',
                               'x = ["frob"]')
    assert system_check.check("x", declaration) == [
        "frob: 'frob-no-such-tool' not found on PATH: frobs the widgets"]


def test_a_missing_python_module_is_named(tmp_path):
    declaration = _declaration(tmp_path, '[parts.venv]\npython_module = "no_such_module_xyz"\nwhy = "install it"',
                               'x = ["venv"]')
    assert system_check.check("x", declaration) == [
        "venv: Python module 'no_such_module_xyz' not found: install it"]


def _fake_terraform(path: Path, version: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho '{{\"terraform_version\": \"{version}\"}}'\n")
    path.chmod(0o755)


TERRAFORM_PART = ('[parts.terraform]\ncommand = "terraform"\nversion = "1.11.4"\nwhy = "fmt"\n'
                  'copy_from = "build/bin/terraform"\ncopy_made_by_step = "terraform-binary"')


def test_another_terraform_version_is_refused(tmp_path, monkeypatch):
    _fake_terraform(tmp_path / "bin" / "terraform", "1.9.0")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    declaration = _declaration(tmp_path, TERRAFORM_PART, 'x = ["terraform"]')
    [problem] = system_check.check("x", declaration)
    assert problem.startswith("terraform: ") and "is version 1.9.0, the project pins 1.11.4" in problem


def test_provide_installs_the_copied_terraform_and_then_checks(tmp_path, monkeypatch):
    _fake_terraform(tmp_path / "build" / "bin" / "terraform", "1.11.4")
    installed = tmp_path / "usr-local-bin"
    monkeypatch.setenv("PATH", str(installed))
    declaration = _declaration(tmp_path, TERRAFORM_PART, 'x = ["terraform"]')
    assert system_check.check("x", declaration) != []
    assert system_check.provide("x", declaration, root=tmp_path, install_dir=installed) == []
    assert (installed / "terraform").exists()


def test_provide_names_the_step_that_should_have_made_the_copy(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    declaration = _declaration(tmp_path, TERRAFORM_PART, 'x = ["terraform"]')
    [problem] = system_check.provide("x", declaration, root=tmp_path, install_dir=tmp_path / "bin")
    assert "build/bin/terraform does not exist: the step 'terraform-binary' makes it" in problem
