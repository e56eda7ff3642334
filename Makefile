# Two commands on a fresh machine: `make demo` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
# checkov has its own venv: its bc-python-hcl2 clashes with python-hcl2 used by the tests.
CHECKOV_VENV := .venv-checkov
CHECKOV_INSTALLED := $(CHECKOV_VENV)/.installed
# The Events Protocol's official clients, driven against ingest by the compatibility tests: the
# Python one in its own venv (it needs pydantic<2), the JS one pinned in tools/compat.
COMPAT_VENV := .venv-compat
COMPAT_INSTALLED := $(COMPAT_VENV)/.installed
JS_CLIENT_INSTALLED := tools/compat/node_modules/.installed
export TF_CLI_CONFIG_FILE := /dev/null
export CHECKPOINT_DISABLE := 1

.PHONY: demo test up package bench tf-validate infra-check py312-check deploy-check preflight post-apply clean \
        check-python check-system

$(INSTALLED): requirements.txt requirements-dev.txt
	@$(MAKE) --no-print-directory check-python
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

$(CHECKOV_INSTALLED): requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	@touch $@

$(COMPAT_INSTALLED): requirements-compat.txt
	$(PYTHON) -m venv $(COMPAT_VENV)
	$(COMPAT_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-compat.txt
	@touch $@

# Without npm the JS client's test is skipped, and says why.
$(JS_CLIENT_INSTALLED): tools/compat/package.json tools/compat/package-lock.json
	@if command -v npm >/dev/null; then \
	  npm ci --prefix tools/compat --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "note: npm not found: the JS Events Protocol client's test will be skipped"; fi

# Fail early, naming what is missing, before installing anything. What each target needs is
# declared once in system-parts.toml (the pipeline's steps install from the same file):
# `check-system-<target>` checks one target's parts, `check-system` those of every target.
check-python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null \
	  || { echo "error: Python 3.11+ is required as '$(PYTHON)' (set PYTHON=...)"; exit 1; }

check-system: check-python
	@$(PYTHON) -m tools.system_check check

check-system-%: check-python
	@$(PYTHON) -m tools.system_check check $*

demo: check-system-demo $(INSTALLED)
	$(PY) -m tools.demo

test: check-system-test $(INSTALLED) $(CHECKOV_INSTALLED) $(COMPAT_INSTALLED) $(JS_CLIENT_INSTALLED)
	$(PY) -m pytest

# The whole local stack in the foreground until Ctrl-C / SIGTERM.
up: check-system-up $(INSTALLED)
	exec $(PY) -m tools.stack up

# One deployable folder and zip per function in build/package/ (main.py, shared/, requirements.txt).
package: check-system-package $(INSTALLED)
	$(PY) -m tools.package

bench: check-system-bench $(INSTALLED)
	$(PY) -m tools.bench
	$(PY) -m tools.bench_forwarding

# The deployed runtime is python312: build a 3.12 venv, run the unit tests and import every
# packaged function with it. PYTHON312 defaults to pyenv's 3.12 when present.
PYTHON312 ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3.12) python3.12)
py312-check: check-system-py312-check package
	@command -v $(PYTHON312) >/dev/null || { echo "error: Python 3.12 not found (set PYTHON312=...)"; exit 1; }
	$(PYTHON312) -m venv .venv312
	.venv312/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	.venv312/bin/python -m pytest tests/unit -q -p no:cacheprovider
	@for dir in build/package/*/; do name=$$(basename $$dir); \
	  (cd $$dir && ../../../.venv312/bin/python -E -c "import main; main.$$name") || exit 1; \
	  echo "$$name: imports from its package on Python 3.12"; done

# Offline Terraform checks alone (also part of `make test`).
infra-check: check-system-infra-check $(INSTALLED) $(CHECKOV_INSTALLED)
	terraform fmt -check -recursive terraform
	$(CHECKOV_VENV)/bin/checkov -d terraform --framework terraform --compact --quiet --skip-download
	$(PY) -m tools.infra_checks

# Operator settings (README, "Deploying"): the tfvars file the pipeline's plan reads, by default
# the one cloudbuild.yaml's substitution _TFVARS names. PROJECT_ID defaults to GOOGLE_CLOUD_PROJECT.
PROJECT_ID ?= $(GOOGLE_CLOUD_PROJECT)
TFVARS ?=
DEPLOY_ARGS = $(if $(PROJECT_ID),--project $(PROJECT_ID)) $(if $(TFVARS),--tfvars $(TFVARS))

# Offline: prints the plan command and inputs the pipeline would use, names every missing
# operator setting, and runs Terraform's own validation of them (no provider needed).
deploy-check: check-system-deploy-check $(INSTALLED)
	$(PY) -m tools.deploy_check check $(DEPLOY_ARGS)

# deploy-check, then (online, gcloud) the project's org policies against those settings.
preflight: check-system-preflight $(INSTALLED)
	$(PY) -m tools.deploy_check preflight $(DEPLOY_ARGS)

# After terraform apply (online, gcloud): what Terraform cannot set (beacon's invoker IAM check).
post-apply: check-system-post-apply $(INSTALLED)
	$(PY) -m tools.deploy_check post-apply $(DEPLOY_ARGS)

# Needs the network (provider download): not part of `make test`. Writes .terraform.lock.hcl:
# commit it (README, "Deploying").
tf-validate: check-system-tf-validate
	cd terraform && terraform init -backend=false -input=false && terraform validate

clean:
	rm -rf build .stack .pytest_cache terraform/.terraform .venv312
