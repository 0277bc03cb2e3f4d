# The two commands a new user needs: `make demo` (the main job on the built-in lab) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test fuzz clients lint-code deps venv system-deps bench clean

demo: deps
	$(BIN)/python -m mailcert.demo

test: deps
	$(BIN)/ruff check mailcert tests bench fabfile.py
	$(BIN)/ruff format --check mailcert tests bench fabfile.py
	$(BIN)/mypy
	$(BIN)/pytest -q

# Property tests with the long hypothesis budget (tests/fuzz/conftest.py): fresh random inputs every run.
fuzz: deps
	HYPOTHESIS_PROFILE=long $(BIN)/pytest -q tests/fuzz

# What OpenSSL, GnuTLS, NSS and Python ssl say for every lab fault on every port (root; the machine's one lab):
# records docs/clients.md and docs/clients.json, which symptoms.yml, explain and the tests are checked against.
clients: deps
	$(BIN)/python -m mailcert.lab.client_matrix --docs docs

deps: system-deps venv

system-deps:
	sh scripts/install-system-deps
	sh scripts/install-exim
	sh scripts/install-debian13

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,central]'
	touch $@

# Peer tools (check_ssl_cert, testssl.sh, sslyze venv) come from scripts/install-bench-deps; BENCH_ARGS=--quick for a short run.
bench: deps
	sh scripts/install-bench-deps
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
