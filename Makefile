# The two quickstart commands (README): `make bench` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed-stamp

.PHONY: setup bench test test-fast clean-venv

# Installs the pinned set (constraints.txt pins the CPU torch build, so no CUDA download).
$(STAMP): pyproject.toml constraints.txt
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	@echo "installing dependencies into $(VENV) (about a minute the first time; log: $(VENV)/install.log)"
	@$(VENV)/bin/pip install -c constraints.txt -e ".[test]" > $(VENV)/install.log 2>&1 || (tail -30 $(VENV)/install.log; exit 1)
	@touch $(STAMP)

setup: $(STAMP)

bench: $(STAMP)
	$(VENV)/bin/bench run

test: $(STAMP)
	$(VENV)/bin/python -m pytest

test-fast: $(STAMP)
	$(VENV)/bin/python -m pytest -m "not slow"

clean-venv:
	rm -rf $(VENV)
