"""The one exception hierarchy of llmcache.

The core raises these; ``llmcache_cli.cli.main`` is the one place that turns them into a
one-line message on stderr and an exit code (docs/design.md, "Errors and exit codes": 1 operational, 2 usage).
Every message is already redacted: no exception here may carry a password.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_OPERATIONAL = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class LLMCacheError(Exception):
    """Base class. ``hint`` says what the user should check or do next."""

    exit_code = EXIT_OPERATIONAL

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        text = self.message
        if self.hint:
            text = f"{text} ({self.hint})"
        return " ".join(text.split())


class UsageError(LLMCacheError):
    """Bad flag, value, URL, symbol or file given by the user: exit 2."""

    exit_code = EXIT_USAGE


class ConfigError(UsageError):
    """The configuration file is missing, unreadable or invalid."""


class RedisOperationError(LLMCacheError):
    """Anything that went wrong talking to Redis: exit 1."""


class ConnectionFailed(RedisOperationError):
    """The server could not be reached (refused, timed out, TLS failure, DNS)."""


class AuthenticationFailed(RedisOperationError):
    """Wrong or missing user/password."""


class PermissionDenied(RedisOperationError):
    """The ACL user may not run a command llmcache needs."""


class ServerError(RedisOperationError):
    """The server answered with an error (OOM, READONLY, LOADING, ...)."""


class PartialFailure(RedisOperationError):
    """A batch operation stopped half-way; ``done`` says how much was completed."""

    def __init__(self, message: str, hint: str | None = None, done: int = 0) -> None:
        super().__init__(message, hint)
        self.done = done


class SnapshotError(LLMCacheError):
    """An RDB snapshot could not be read: missing, truncated, corrupt, or of an unknown version."""
