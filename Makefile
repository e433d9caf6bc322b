# The two quickstart commands (README): `make bench` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed-stamp

.PHONY: setup bench test test-fast lint format evidence clean-venv

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

# ruff (config in pyproject.toml): lint rules, import order, and the formatter's layout; CI runs it before the tests.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test-fast: $(STAMP)
	$(VENV)/bin/python -m pytest -m "not slow"

# Our own runs that fit two CPU cores, committed under results/evidence/ (manifests, evals.csv, metrics; no
# checkpoints): `bench report` shows them as "our runs" and `bench check --against mrq-paper` checks them.
# Re-running resumes interrupted cells and skips complete ones. DEVICE=cuda extends nothing by itself:
# it runs the same cells on a GPU (each manifest records the device).
EVIDENCE ?= results/evidence
DEVICE ?= auto
EVIDENCE_RUN = $(VENV)/bin/bench run --workers 2 --device $(DEVICE) --out $(EVIDENCE)
evidence: $(STAMP)
	$(EVIDENCE_RUN) --suite gym --tasks HalfCheetah-v4,Hopper-v4 --algos td3 --seeds 0-2 --steps 100k
	$(EVIDENCE_RUN) --suite dmc-proprio --tasks cartpole-balance --algos mrq --seeds 0-3 --steps 15k
	$(EVIDENCE_RUN) --suite omd-cartpole --tasks CartPole-v1-width3,CartPole-v1 --algos omd,omd@mle --seeds 0-2

clean-venv:
	rm -rf $(VENV)
