# Two commands on a fresh machine: `make demo` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
# checkov has its own venv: its bc-python-hcl2 clashes with python-hcl2 used by the tests.
CHECKOV_VENV := .venv-checkov
CHECKOV_INSTALLED := $(CHECKOV_VENV)/.installed
export TF_CLI_CONFIG_FILE := /dev/null
export CHECKPOINT_DISABLE := 1

.PHONY: demo test up package bench tf-validate infra-check py312-check clean check-system

$(INSTALLED): requirements.txt requirements-dev.txt
	@$(MAKE) --no-print-directory check-system
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

$(CHECKOV_INSTALLED): requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	@touch $@

# Fail early, naming what is missing, before installing anything.
check-system:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null \
	  || { echo "error: Python 3.11+ is required as '$(PYTHON)' (set PYTHON=...)"; exit 1; }
	@command -v java >/dev/null || { echo "error: java not found: the Google emulators need Java 17+"; exit 1; }
	@command -v terraform >/dev/null || { echo "error: terraform not found on PATH (Terraform 1.5+)"; exit 1; }
	@command -v gcloud >/dev/null || [ -n "$$CLOUDSDK_ROOT" ] \
	  || { echo "error: Google Cloud SDK not found: install it, then run" \
	       "'gcloud components install pubsub-emulator cloud-firestore-emulator'"; exit 1; }

demo: $(INSTALLED)
	$(PY) -m tools.demo

test: $(INSTALLED) $(CHECKOV_INSTALLED)
	$(PY) -m pytest

# The whole local stack in the foreground until Ctrl-C / SIGTERM.
up: $(INSTALLED)
	exec $(PY) -m tools.stack up

# One deployable folder and zip per function in build/package/ (main.py, shared/, requirements.txt).
package: $(INSTALLED)
	$(PY) -m tools.package

bench: $(INSTALLED)
	$(PY) -m tools.bench
	$(PY) -m tools.bench_forwarding

# The deployed runtime is python312: build a 3.12 venv, run the unit tests and import every
# packaged function with it. PYTHON312 defaults to pyenv's 3.12 when present.
PYTHON312 ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3.12) python3.12)
py312-check: package
	@command -v $(PYTHON312) >/dev/null || { echo "error: Python 3.12 not found (set PYTHON312=...)"; exit 1; }
	$(PYTHON312) -m venv .venv312
	.venv312/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	.venv312/bin/python -m pytest tests/unit -q -p no:cacheprovider
	@for dir in build/package/*/; do name=$$(basename $$dir); \
	  (cd $$dir && ../../../.venv312/bin/python -E -c "import main; main.$$name") || exit 1; \
	  echo "$$name: imports from its package on Python 3.12"; done

# Offline Terraform checks alone (also part of `make test`).
infra-check: $(INSTALLED) $(CHECKOV_INSTALLED)
	terraform fmt -check -recursive terraform
	$(CHECKOV_VENV)/bin/checkov -d terraform --framework terraform --compact --quiet --skip-download
	$(PY) -m tools.infra_checks

# Needs the network (provider download): not part of `make test`.
tf-validate:
	cd terraform && terraform init -backend=false -input=false && terraform validate

clean:
	rm -rf build .stack .pytest_cache terraform/.terraform .venv312
