# Two commands on a fresh machine: `make demo` and `make test`.
# Each one creates .venv, installs delegraph with its extras, resolves the
# Neo4j jars with Maven and starts a local Neo4j when no NEO4J_URI is set.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint typecheck bench bench-full neo4j-start neo4j-stop clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/delegraph demo

test: $(STAMP)
	scripts/install-browser-test-deps.sh
	scripts/install-vegeta.sh
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# mypy cannot follow the editable install's import hook, so it reads the three
# source folders through a symlinked delegraph/ package under build/typecheck.
typecheck: $(STAMP)
	mkdir -p build/typecheck/delegraph
	for d in engine cypher api; do ln -sfn ../../../$$d build/typecheck/delegraph/$$d; done
	$(BIN)/mypy

bench: $(STAMP)
	scripts/install-vegeta.sh
	$(BIN)/python -m bench.run --quick

bench-full: $(STAMP)
	scripts/install-vegeta.sh
	$(BIN)/python -m bench.run --full

neo4j-start: $(STAMP)
	$(BIN)/delegraph neo4j start

neo4j-stop: $(STAMP)
	$(BIN)/delegraph neo4j stop

clean:
	rm -rf $(VENV) neo4j-local/target bench/.tools
