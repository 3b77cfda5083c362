"""Fixtures for the library tests: a silent endpoint, and a helper to run coroutines."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest

from llmcache_cli.config import Settings

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run one coroutine to completion (no pytest plugin needed)."""
    return asyncio.run(coro)


@pytest.fixture
def settings() -> Settings:
    """The documented defaults, whatever the user's own config file says."""
    return Settings()
