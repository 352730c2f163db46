# Two commands on a fresh machine: `make run` and `make test`.
# Both create .venv if needed and install the project with the pinned constraints.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000
NOTEBOOK_PORT ?= 8888
# DVC stages run `python -m ...`: make that the venv's interpreter.
export PATH := $(abspath $(BIN)):$(PATH)
export DVC_NO_ANALYTICS := 1

.PHONY: install run test lint typecheck pytest serve mlflow-ui notebook bench lock clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/dvc repro
	@$(BIN)/churn summary

PY_SOURCES := config ingest features bundle training scoring report alerts serving cli tests benchmarks

lint: $(STAMP)
	$(BIN)/ruff check $(PY_SOURCES)
	$(BIN)/ruff format --check $(PY_SOURCES)

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/python -m pytest

test: lint typecheck pytest

serve: $(STAMP)
	$(BIN)/uvicorn serving.app:create_app --factory --host $(HOST) --port $(PORT)

mlflow-ui: $(STAMP)
	$(BIN)/mlflow ui --backend-store-uri sqlite:///mlflow.db --host $(HOST) --port 5000

# The analyst notebook in Jupyter (reads the outputs of `make run`).
notebook: $(STAMP)
	$(BIN)/jupyter notebook --ip=$(HOST) --port=$(NOTEBOOK_PORT) notebooks/analyst.ipynb

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run_all $(BENCH_ARGS)

# Refresh constraints.txt from the current environment (after changing pyproject.toml).
lock: $(STAMP)
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^-e' > constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
