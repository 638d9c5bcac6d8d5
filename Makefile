# apim-chargeback: every install step the project needs lives here (CI runs `make test` on a clean clone).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CHECKOV_VENV := .cache/checkov-venv
CHECKOV_VERSION := 3.3.30
MUTMUT_VENV := .cache/mutmut-venv
MUTMUT_VERSION := 3.8.1
# `make mutation MUTATE=aggregator/ptu.py` runs one module; empty = every money and exactly-once module.
MUTATE ?=
MONO_PACKAGES := mono-mcs mono-runtime libnewtonsoft-json5.0-cil
PYTEST_ARGS ?=
DEMO_ARGS ?=
# `make test` spreads the suite over this many pytest-xdist workers (the machine has 2 cores).
PYTEST_WORKERS ?= 2
# Fault-suite size (calls per crash scenario): small in `make test`, full in `make reliability` and `make test-deep`.
RELIABILITY_RECORDS ?= 5000
RELIABILITY_FULL := 50000
CHECKOV_ENV = CHECKOV_BIN=$(abspath $(CHECKOV_VENV))/bin/checkov
# pytest exits 5 when it collected no test: every target here has tests, so that is a failure, said in one line
# (never a silent pass, and never mistaken for a failing test).
define pytest
	status=0; $(1) || status=$$?; \
	if [ $$status -eq 5 ]; then echo "make $@: pytest collected no test (exit 5): check PYTEST_ARGS / -m / -k" >&2; fi; \
	exit $$status
endef


.PHONY: openapi setup demo test test-unit test-deep reliability lint typecheck bench tools node-tools mono browser checkov clean mutation mutation-tool

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

# The whole pipeline on synthetic traffic, on this machine (README, first command).
demo: setup mono
	$(BIN)/chargeback demo $(DEMO_ARGS)

# Azurite (the Azure Storage emulator) from the npm registry, at the version package-lock.json pins.
node-tools: node_modules/.installed
node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm (Node.js 20) is required to install Azurite for the tests" >&2; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Mono runs the APIM policy's C# expressions in tests (Debian packages; about 30 MB).
mono:
	@if command -v mcs >/dev/null && command -v mono >/dev/null && ls /usr/lib/mono/gac/Newtonsoft.Json >/dev/null 2>&1; then \
		echo "mono: present"; \
	else \
		if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null; then SUDO=sudo; else \
			echo "mono: missing and cannot install ($(MONO_PACKAGES)): run as root or install them" >&2; exit 1; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $(MONO_PACKAGES) >/dev/null \
			|| { echo "mono: apt-get install $(MONO_PACKAGES) failed" >&2; exit 1; }; \
	fi

# Headless Chromium renders the HTML report in tests (Debian package).
browser:
	@if command -v chromium >/dev/null; then echo "chromium: present"; else \
		if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null; then SUDO=sudo; else \
			echo "chromium: missing and cannot install: run as root or install the chromium package" >&2; exit 1; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null \
			|| { echo "chromium: apt-get install chromium failed" >&2; exit 1; }; \
	fi

# checkov scans the Bicep; it pins packages that clash with the test tools, so it gets its own virtualenv.
checkov: $(CHECKOV_VENV)/.installed
$(CHECKOV_VENV)/.installed:
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/pip install --quiet checkov==$(CHECKOV_VERSION)
	touch $@

tools: setup node-tools mono browser checkov

# CI runs this on a clean clone. The slowest 25 tests are listed at the end of every run.
test: tools
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(call pytest,$(CHECKOV_ENV) RELIABILITY_RECORDS=$(RELIABILITY_RECORDS) $(BIN)/pytest -n $(PYTEST_WORKERS) \
		--dist loadgroup --durations=25 $(PYTEST_ARGS))

# Nightly: everything at full strength (4x hypothesis examples, e2e on both lakes, the full fault suite).
test-deep: tools
	$(call pytest,$(CHECKOV_ENV) HYPOTHESIS_PROFILE=deep RELIABILITY_RECORDS=$(RELIABILITY_FULL) $(BIN)/pytest \
		-n $(PYTEST_WORKERS) --dist loadgroup --durations=25 --lake-backend both $(PYTEST_ARGS))

# The fault suite alone at full size, printing its figures (RELIABILITY_RECORDS=N to change the size).
reliability: RELIABILITY_RECORDS = $(RELIABILITY_FULL)
reliability: setup node-tools
	$(call pytest,RELIABILITY_RECORDS=$(RELIABILITY_RECORDS) $(BIN)/pytest tests/reliability -p no:randomly -s \
		$(PYTEST_ARGS))

# The fast loop: pure tests only, one process.
test-unit: setup
	$(call pytest,$(BIN)/pytest tests/unit $(PYTEST_ARGS))

lint: setup typecheck
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/ruff format --check .

# mypy: strict on common/ and schemas/, the other packages at the baseline in pyproject.toml.
typecheck: setup
	$(BIN)/mypy

bench: tools
	$(BIN)/python -m bench

# The read API's published OpenAPI document (a test fails when it is stale).
openapi: setup
	$(BIN)/python -m api.openapi docs/openapi.json

clean:
	rm -rf $(VENV) .cache node_modules .pytest_cache .ruff_cache .mypy_cache .hypothesis .benchmarks

# Mutation testing (issue 20; not part of `make test`): mutmut over the money and exactly-once modules, one module at
# a time in its own scratch copy (.cache/mutation/), each mutant against that module's focused tests that ran the
# mutated function (tests/mutation/run.py), then the hand-written mutations of the SQL, the policy's C# and the named
# bugs (tests/mutation/handmade.py). Scores: tests/mutation/score.py; figures: bench/README.md "Mutation testing".
# mutmut gets its own virtualenv with the project's dependencies but NOT the project itself: an editable install's
# import hook would load the unmutated sources ahead of mutmut's copies in mutants/.
mutation-tool: $(MUTMUT_VENV)/.installed
$(MUTMUT_VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(MUTMUT_VENV)
	$(MUTMUT_VENV)/bin/pip install --quiet --upgrade pip
	$(MUTMUT_VENV)/bin/pip install --quiet -c constraints.txt -e '.[dev]' mutmut==$(MUTMUT_VERSION)
	$(MUTMUT_VENV)/bin/pip uninstall --quiet -y apim-chargeback
	touch $@

mutation: mutation-tool mono
	$(MUTMUT_VENV)/bin/python -m tests.mutation.run $(MUTATE)
	$(MUTMUT_VENV)/bin/python -m tests.mutation.score $(MUTATE)
	nice -n 10 $(MUTMUT_VENV)/bin/python -m tests.mutation.handmade
