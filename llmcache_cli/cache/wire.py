"""A pipelined RESP connection for the hot path: many requests in flight, replies in order.

redis-py takes a pooled connection, writes, awaits the reply and gives the connection back for
every command; that is most of a cache hit's cost, and it cannot put the lookups of many
coroutines on one connection. ``Wire`` is an ``asyncio.Protocol`` over one socket: ``send``
writes a batch of packed commands at once and returns a future of their replies; the event
loop's ``data_received`` feeds the bytes to hiredis (the parser redis-py itself uses) and
resolves the futures in order, with no task and no await per reply. Connection details (host,
port, unix socket, TLS, user, password, database) come from redis-py's own URL parser, so a URL
means the same thing here as everywhere else.

A push (RESP3 ``invalidate``, used by the near cache's tracking connection) goes to ``on_push``.
Any failure fails every request in flight and closes the connection: replies could no longer be
matched to their requests.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
from collections.abc import Callable
from typing import Any

import hiredis
import redis.exceptions as rex
from redis.asyncio.connection import parse_url

pack_command = hiredis.pack_command
_PUSH = hiredis.PushNotification  # a RESP3 push (">"), never a reply

_CERT_REQS = {"none": ssl.CERT_NONE, "optional": ssl.CERT_OPTIONAL, "required": ssl.CERT_REQUIRED}


def _tls_context(params: dict[str, Any]) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=params.get("ssl_ca_certs"), capath=params.get("ssl_ca_path"))
    if params.get("ssl_certfile"):
        context.load_cert_chain(params["ssl_certfile"], params.get("ssl_keyfile"))
    reqs = _CERT_REQS.get(str(params.get("ssl_cert_reqs", "required")), ssl.CERT_REQUIRED)
    check = params.get("ssl_check_hostname")
    context.check_hostname = bool(reqs == ssl.CERT_REQUIRED if check is None else check)
    context.verify_mode = reqs
    return context


class Wire(asyncio.Protocol):
    def __init__(
        self, on_push: Callable[[list[Any]], None] | None = None, on_lost: Callable[[], None] | None = None
    ):
        self.reader = hiredis.Reader(replyError=rex.ResponseError, protocolError=rex.InvalidResponse)
        self.pending: collections.deque[tuple[asyncio.Future[list[Any]], int, list[Any]]] = (
            collections.deque()
        )
        self.transport: asyncio.Transport | None = None
        self.on_push = on_push
        self.on_lost = on_lost
        self.closed = False
        self.error: BaseException | None = None

    # -- asyncio.Protocol ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        reader = self.reader
        reader.feed(data)
        pending = self.pending
        try:
            while True:
                reply = reader.gets()
                if reply is False:
                    return
                if type(reply) is _PUSH:
                    if self.on_push is not None:
                        self.on_push(reply)
                    continue
                if not pending:
                    raise rex.InvalidResponse("a reply nobody asked for")
                future, count, replies = pending[0]
                replies.append(reply)
                if len(replies) == count:
                    pending.popleft()
                    if not future.done():
                        future.set_result(replies)
        except (rex.InvalidResponse, hiredis.ProtocolError) as exc:
            self.fail(exc)

    def connection_lost(self, exc: Exception | None) -> None:
        self.fail(exc or rex.ConnectionError("Redis closed the connection"))

    # -- use ----------------------------------------------------------------------------------------

    def send(self, payload: bytes, count: int) -> asyncio.Future[list[Any]]:
        """Write ``count`` packed commands; a future of their ``count`` replies (errors as
        ``redis.exceptions.ResponseError`` values, not raised)."""
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        if self.closed or self.transport is None:
            future.set_exception(self.error or rex.ConnectionError("the connection is closed"))
            return future
        self.pending.append((future, count, []))
        self.transport.write(payload)
        return future

    async def call(self, *command: Any) -> Any:
        (reply,) = await self.send(pack_command(command), 1)
        if isinstance(reply, rex.ResponseError):
            raise reply
        return reply

    def fail(self, exc: BaseException) -> None:
        """Fail every request in flight and close: later replies could not be matched."""
        if self.closed:
            return
        self.closed = True
        self.error = exc
        while self.pending:
            future, _, _ = self.pending.popleft()
            if not future.done():
                future.set_exception(exc)
        if self.transport is not None:
            self.transport.abort()
        if self.on_lost is not None:
            self.on_lost()

    def close(self) -> None:
        self.fail(rex.ConnectionError("the connection was closed by the cache service"))


async def open_wire(
    url: str,
    timeout: float,
    *,
    host: str | None = None,
    port: int | None = None,
    resp3: bool = False,
    on_push: Callable[[list[Any]], None] | None = None,
    on_lost: Callable[[], None] | None = None,
) -> Wire:
    """A logged-in ``Wire`` to the server of ``url`` (or ``host``:``port``, a cluster node, with
    the URL's credentials and TLS). ``resp3`` says ``HELLO 3`` (for tracking pushes)."""
    params: dict[str, Any] = dict(parse_url(url))
    loop = asyncio.get_running_loop()
    tls = _tls_context(params) if url.startswith("rediss://") else None

    def protocol() -> Wire:
        return Wire(on_push, on_lost)

    async def connect() -> Wire:
        if params.get("path") and host is None:
            _, wire = await loop.create_unix_connection(protocol, params["path"])
        else:
            _, wire = await loop.create_connection(
                protocol,
                host or params.get("host", "localhost"),
                port or params.get("port", 6379),
                ssl=tls,
                server_hostname=(host or params.get("host", "localhost")) if tls else None,
            )
        return wire

    try:
        wire = await asyncio.wait_for(connect(), timeout)
    except asyncio.TimeoutError as exc:
        raise rex.TimeoutError(f"connecting took more than {timeout:g}s") from exc
    except OSError as exc:
        raise rex.ConnectionError(str(exc) or type(exc).__name__) from exc
    try:
        await asyncio.wait_for(_login(wire, params, resp3, db=host is None), timeout)
    except BaseException as exc:
        wire.close()
        if isinstance(exc, asyncio.TimeoutError):
            raise rex.TimeoutError(f"logging in took more than {timeout:g}s") from exc
        raise
    return wire


async def _login(wire: Wire, params: dict[str, Any], resp3: bool, db: bool) -> None:
    user, password = params.get("username"), params.get("password")
    commands: list[tuple[Any, ...]] = []
    if resp3:
        hello: tuple[Any, ...] = ("HELLO", 3)
        if password is not None:
            hello += ("AUTH", user or "default", password)
        commands.append(hello)
    elif password is not None:
        commands.append(("AUTH", user, password) if user else ("AUTH", password))
    if db and params.get("db"):
        commands.append(("SELECT", params["db"]))
    if not commands:
        return
    replies = await wire.send(b"".join(pack_command(c) for c in commands), len(commands))
    for reply in replies:
        if isinstance(reply, rex.ResponseError):
            text = str(reply)
            if "without any password configured" in text:
                continue  # a password the server does not need: redis-py goes on too

            if text.startswith(("WRONGPASS", "NOAUTH", "invalid password", "invalid username")):
                raise rex.AuthenticationError(text)
            raise reply
