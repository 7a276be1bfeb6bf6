# Shortcuts for common work; see README.md. Everything runs from the project's .venv.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: help install test unit lint types check images ci

help:  ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/'

install:  ## create .venv and install o2v with its test tools
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/pip install -e '.[test]'

test:  ## the README's test command (the whole suite)
	$(BIN)/pytest

unit:  ## unit tests only
	$(BIN)/pytest tests/unit

lint:  ## ruff
	$(BIN)/ruff check .

types:  ## mypy over the o2v package
	$(BIN)/mypy

check: lint types unit  ## lint, types and unit tests

images:  ## build the local Docker images (reused when present)
	bash deployments/build-images.sh

ci:  ## the whole CI, as on a fresh machine
	bash .ci/run
