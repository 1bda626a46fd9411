# One command to install and run the main job, one to install and run the tests.
#   make run    creates .venv, installs citewatch, runs it on the sample document in data/
#   make test   creates .venv, installs citewatch with its test extras, runs ruff, mypy and the whole suite

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
SAMPLE := data/000_7d4670f58732b56e.txt

.PHONY: install install-test run test clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

run: install
	$(BIN)/citewatch run $(SAMPLE)

test: install-test
	sh scripts/ensure-chromium
	$(BIN)/ruff check pipeline tests benchmarks scripts
	$(BIN)/mypy
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) build *.egg-info
