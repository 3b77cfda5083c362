"""Redis URLs: the documented resolution order, validation, and password redaction.

Order (docs/design.md, "Connecting"): ``--url`` flag, env ``LLMCACHE_REDIS_URL``, env ``REDIS_URL``, then
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
from llmcache_cli.limits import TIMEOUT_RULE, is_timeout

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
TLS_PARAMS = frozenset(p for p in QUERY_PARAMS if p.startswith("ssl_"))


@dataclass(frozen=True)
class RedisURL:
    """A validated URL. ``redacted`` is the only form that may be printed."""

    url: str
    source: str  # "--url", "LLMCACHE_REDIS_URL", "REDIS_URL" or "default"
    scheme: str
    redacted: str
    password: str | None
    username: str | None = None  # the ACL user it logs in as (None: Redis's ``default``)
    db: int = 0

    @property
    def tls(self) -> bool:
        return self.scheme == "rediss"

    def redactor(self) -> Redactor:
        return Redactor([self.password, *url_secrets(self.url)] if self.password else url_secrets(self.url))


def resolve_url(flag: str | None, env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """Return ``(url, source)`` following the documented order. An empty ``--url`` is an
    error later (``parse_redis_url``), never a silent fall back to another server; an empty
    environment variable counts as unset."""
    env = os.environ if env is None else env
    if flag is not None:
        return flag, "--url"
    for name in URL_ENV_VARS:
        if env.get(name):
            return env[name], name
    return DEFAULT_URL, "default"


def _loose_password(url: str) -> str | None:
    """The password a user meant, even when it holds a character that breaks URL parsing
    (``redis://:pa#ss@host``, ``redis://:pa/ss@host``): the text between the user and the
    last ``@``."""
    head, at, _ = url.rpartition("@")
    if not at:
        return None
    userinfo = head.partition("://")[2] if "://" in head else head
    if ":" not in userinfo:
        return None
    return userinfo.split(":", 1)[1] or None


def _password_cut(url: str) -> bool:
    """Did a character of the password end the URL's host part early (``redis://:pa#ss@h``)?"""
    try:
        netloc = urlsplit(url).netloc
    except ValueError:
        netloc = ""
    return "@" not in netloc and _loose_password(url) is not None


ENCODE_PASSWORD = "a password with # / ? [ or ] must be percent-encoded"
ENCODE_HINT = "e.g. # as %23, / as %2F, ? as %3F, [ as %5B, ] as %5D"


def url_secrets(url: str) -> list[str]:
    """Every form of password that ``url`` may carry, for ``Redactor``."""
    found = [_loose_password(url)]
    try:
        parts = urlsplit(url)
        found.append(parts.password)
        found += [v for k, v in parse_qsl(parts.query, keep_blank_values=True) if k.lower() == "password"]
    except ValueError:
        pass
    return [s for s in found if s]


def redact_url(url: str) -> str:
    """The URL with any password (in the userinfo or a ``password=`` query) replaced by ***."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return _redact_unparseable(url)
    if "@" not in parts.netloc and _loose_password(url):
        # A password with '#', '/', '?' or '[' that was not percent-encoded: urlsplit cut the
        # URL inside it. Mask everything up to the last '@'.
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
        scheme, sep, userinfo = head.partition("://")
        user = userinfo.split(":", 1)[0] if sep and ":" in userinfo else ""
        return f"{scheme}{sep}{user}:{MASK}@{tail}" if sep else f"{MASK}@{tail}"
    return url


def parse_redis_url(url: str, source: str = "--url") -> RedisURL:
    """Validate ``url``; a malformed URL or an unknown scheme is a usage error (exit 2)."""
    shown = redact_url(url)
    redact = Redactor(url_secrets(url))
    if not url or url != url.strip():
        raise UsageError(f"invalid Redis URL {shown!r} from {source}: empty or surrounded by spaces")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        if _password_cut(url):  # the parser's own message would quote part of the password
            raise UsageError(
                f"invalid Redis URL {shown!r} from {source}: {ENCODE_PASSWORD}", ENCODE_HINT
            ) from None
        raise UsageError(
            f"invalid Redis URL {shown!r} from {source}: {redact(str(exc))}",
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
    tls_only = sorted(set(query) & TLS_PARAMS)
    if tls_only and scheme != "rediss":
        raise UsageError(
            f"{tls_only[0]} in Redis URL {shown!r} from {source} needs a TLS URL",
            hint="use rediss:// for TLS",
        )
    if query.get("protocol", "2") not in ("2", "3"):
        raise UsageError(f"protocol in Redis URL {shown!r} from {source} must be 2 or 3")
    if "db" in query and not query["db"].isdigit():
        raise UsageError(
            f"invalid Redis URL {shown!r} from {source}: database {query['db']!r} is not a number"
        )
    if scheme == "unix":
        if not parts.path:
            raise UsageError(
                f"invalid Redis URL {shown!r} from {source}: no socket path",
                hint="expected unix:///path/to/redis.sock",
            )
        db_text = query.get("db", "0")
    else:
        if not parts.hostname and _password_cut(url):
            raise UsageError(f"invalid Redis URL {shown!r} from {source}: {ENCODE_PASSWORD}", ENCODE_HINT)
        if not parts.hostname:
            raise UsageError(
                f"invalid Redis URL {shown!r} from {source}: no host", hint="expected redis://host:port/db"
            )
        if port == 0:
            raise UsageError(f"invalid Redis URL {shown!r} from {source}: port 0")
        try:  # what the resolver will do with it: labels of 1 to 63 characters
            parts.hostname.encode("idna")
        except UnicodeError:
            raise UsageError(
                f"invalid Redis URL {shown!r} from {source}: not a valid host name",
                hint="a host name is dot-separated labels of at most 63 characters",
            ) from None
        db_text = parts.path.lstrip("/") or query.get("db", "0")
    if not db_text.isdigit():
        raise UsageError(f"invalid Redis URL {shown!r} from {source}: database {db_text!r} is not a number")
    username = unquote(parts.username) if parts.username else None
    return RedisURL(url, source, scheme, shown, password, username, int(db_text))


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
        if timeout is not None and not is_timeout(timeout):
            raise UsageError(f"--timeout must be {TIMEOUT_RULE}, got {timeout}")
        return cls(parse_redis_url(raw, source), DEFAULT_TIMEOUT if timeout is None else timeout, cluster)
