# The front door for people and CI: make dev | demo | test | lint | bench
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: dev demo test lint bench redis tools clean

# The virtual environment, with the package (editable) and its dev extras; redone when
# pyproject.toml changes.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

dev: $(STAMP) redis

redis:
	@./scripts/ensure-redis.sh

# tmux for the stats --watch screen test, promtool (optional) for the alert rules
tools:
	@./scripts/ensure-tools.sh

test: $(STAMP) redis tools
	$(BIN)/python -m pytest

demo: $(STAMP) redis
	@./scripts/demo.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check llmcache_cli
	$(BIN)/mypy

bench: $(STAMP) redis
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,bench]'
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .tools .pytest_cache .mypy_cache .ruff_cache .hypothesis .bench .demo
