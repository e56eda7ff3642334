# Two commands on a fresh machine: `make demo` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: demo test up package bench tf-validate clean check-system

$(INSTALLED): requirements.txt requirements-dev.txt
	@$(MAKE) --no-print-directory check-system
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

# Fail early, naming what is missing, before installing anything.
check-system:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null \
	  || { echo "error: Python 3.11+ is required as '$(PYTHON)' (set PYTHON=...)"; exit 1; }
	@command -v java >/dev/null || { echo "error: java not found: the Google emulators need Java 17+"; exit 1; }
	@command -v gcloud >/dev/null || [ -n "$$CLOUDSDK_ROOT" ] \
	  || { echo "error: Google Cloud SDK not found: install it, then run" \
	       "'gcloud components install pubsub-emulator cloud-firestore-emulator'"; exit 1; }

demo: $(INSTALLED)
	$(PY) -m tools.demo

test: $(INSTALLED)
	$(PY) -m pytest

# The whole local stack in the foreground until Ctrl-C / SIGTERM.
up: $(INSTALLED)
	exec $(PY) -m tools.stack up

# One deployable folder and zip per function in build/package/ (main.py, shared/, requirements.txt).
package: $(INSTALLED)
	$(PY) -m tools.package

bench: $(INSTALLED)
	$(PY) -m tools.bench

clean:
	rm -rf build .stack .pytest_cache
