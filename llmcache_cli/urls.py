"""Redis URLs: the documented resolution order, validation, and password redaction.

Order (SPEC section 1): ``--url`` flag, env ``LLMCACHE_REDIS_URL``, env ``REDIS_URL``, then
``redis://localhost:6379/0``. Accepted forms::

    redis://[[user]:password@]host[:port][/db]
    rediss://[[user]:password@]host[:port][/db]      (TLS)
    unix://[[user]:password@]/path/to/redis.sock[?db=N]

A password never leaves this process in clear text: every URL shown anywhere goes through
``redact_url``, and every message through ``Redactor``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from llmcache_cli.errors import UsageError

DEFAULT_URL = "redis://localhost:6379/0"
DEFAULT_TIMEOUT = 5.0
URL_ENV_VARS = ("LLMCACHE_REDIS_URL", "REDIS_URL")
SCHEMES = ("redis", "rediss", "unix")
MASK = "***"
# Query parameters passed through to redis-py (TLS files, RESP protocol); anything else is a typo.
QUERY_PARAMS = frozenset(
    {
        "db",
        "password",
        "ssl_ca_certs",
        "ssl_certfile",
        "ssl_keyfile",
        "ssl_cert_reqs",
        "ssl_check_hostname",
        "ssl_ca_path",
        "protocol",
    }
)


@dataclass(frozen=True)
class RedisURL:
    """A validated URL. ``redacted`` is the only form that may be printed."""

    url: str
    source: str  # "--url", "LLMCACHE_REDIS_URL", "REDIS_URL" or "default"
    scheme: str
    redacted: str
    password: str | None

    @property
    def tls(self) -> bool:
        return self.scheme == "rediss"

    def redactor(self) -> Redactor:
        return Redactor([self.password] if self.password else [])


def resolve_url(flag: str | None, env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """Return ``(url, source)`` following the documented order."""
    env = os.environ if env is None else env
    if flag:
        return flag, "--url"
    for name in URL_ENV_VARS:
        if env.get(name):
            return env[name], name
    return DEFAULT_URL, "default"


def redact_url(url: str) -> str:
    """The URL with any password (in the userinfo or a ``password=`` query) replaced by ***."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return _redact_unparseable(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        if ":" in userinfo:
            user = userinfo.split(":", 1)[0]
            netloc = f"{user}:{MASK}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(k.lower() == "password" for k, _ in pairs):
            query = urlencode([(k, MASK if k.lower() == "password" else v) for k, v in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _redact_unparseable(url: str) -> str:
    if "@" in url:
        head, tail = url.rsplit("@", 1)
        scheme, sep, _ = head.partition("://")
        return f"{scheme}{sep}{MASK}@{tail}" if sep else f"{MASK}@{tail}"
    return url


def parse_redis_url(url: str, source: str = "--url") -> RedisURL:
    """Validate ``url``; a malformed URL or an unknown scheme is a usage error (exit 2)."""
    shown = redact_url(url)
    if not url or url != url.strip():
        raise UsageError(f"invalid Redis URL {shown!r} from {source}: empty or surrounded by spaces")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UsageError(
            f"invalid Redis URL {shown!r} from {source}: {exc}",
            hint="expected redis://[user:password@]host[:port][/db]",
        ) from None
    scheme = parts.scheme.lower()
    if "://" not in url or scheme not in SCHEMES:
        raise UsageError(
            f"unsupported Redis URL {shown!r} from {source}",
            hint="use redis://host:port/db, rediss:// for TLS, or unix:///path/to/socket",
        )
    password = unquote(parts.password) if parts.password else None
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    if query.get("password"):
        password = query["password"]
    unknown = sorted(set(query) - QUERY_PARAMS)
    if unknown:
        raise UsageError(
            f"unknown parameter {unknown[0]!r} in Redis URL {shown!r} from {source}",
            hint="known: " + ", ".join(sorted(QUERY_PARAMS)),
        )
    if query.get("ssl_cert_reqs", "required") not in ("none", "optional", "required"):
        raise UsageError(f"ssl_cert_reqs in Redis URL {shown!r} must be none, optional or required")
    if scheme == "unix":
        if not parts.path:
            raise UsageError(
                f"invalid Redis URL {shown!r} from {source}: no socket path",
                hint="expected unix:///path/to/redis.sock",
            )
        db_text = query.get("db", "0")
    else:
        if not parts.hostname:
            raise UsageError(
                f"invalid Redis URL {shown!r} from {source}: no host", hint="expected redis://host:port/db"
            )
        if port == 0:
            raise UsageError(f"invalid Redis URL {shown!r} from {source}: port 0")
        db_text = parts.path.lstrip("/") or query.get("db", "0")
    if not db_text.isdigit():
        raise UsageError(f"invalid Redis URL {shown!r} from {source}: database {db_text!r} is not a number")
    return RedisURL(url=url, source=source, scheme=scheme, redacted=shown, password=password)


class Redactor:
    """Replaces known secrets (raw and URL-encoded) in any text before it is shown."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        found: set[str] = set()
        for secret in secrets:
            if secret:
                found.add(secret)
                found.add(unquote(secret))
        self._secrets = sorted(found, key=len, reverse=True)

    def add(self, secret: str | None) -> None:
        if secret and secret not in self._secrets:
            self._secrets = sorted({*self._secrets, secret, unquote(secret)}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text


@dataclass(frozen=True)
class ClientOptions:
    """How to reach Redis. ``cluster`` None means detect it with ``INFO cluster``."""

    url: RedisURL
    timeout: float = DEFAULT_TIMEOUT
    cluster: bool | None = None

    @classmethod
    def from_flags(
        cls,
        url: str | None,
        timeout: float | None = None,
        cluster: bool | None = None,
        env: dict[str, str] | None = None,
    ) -> ClientOptions:
        raw, source = resolve_url(url, env)
        if timeout is not None and not timeout > 0:
            raise UsageError(f"--timeout must be a positive number of seconds, got {timeout}")
        return cls(parse_redis_url(raw, source), DEFAULT_TIMEOUT if timeout is None else timeout, cluster)
