# Lines: `make demo` runs the demo, `make test` the whole suite. Both create .venv on first use and
# reinstall only when pyproject.toml changed. Extra pytest arguments: make test PYTEST_ARGS="-k bus -x".

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
BENCH_ARGS ?=

.PHONY: demo test lint bench venv

venv: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: venv
	$(BIN)/lines demo

test: venv
	$(BIN)/pytest $(PYTEST_ARGS)

# mypy sees the folders as the package `lines` through links in build/mypy/lines/ (setup.py maps
# them at install time, which mypy cannot follow); [tool.mypy] in pyproject.toml says what is checked.
lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@mkdir -p build/mypy/lines
	@for init in */__init__.py; do folder=$${init%/__init__.py}; \
	  [ "$$folder" = tests ] || ln -sfn ../../../$$folder build/mypy/lines/$$folder; done
	$(BIN)/mypy

bench: venv
	$(BIN)/python benchmarks/webchat.py $(BENCH_ARGS)
