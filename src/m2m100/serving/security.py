"""What lets ``m2m100 serve`` face a network: ASGI middleware for the Host allowlist, API keys,
rate limits and HEAD; the body read with a size limit and a deadline; and an HTTP protocol that
closes connections which trickle their headers or sit idle.

Every refusal is the service's JSON error, ``{"error": kind, "detail": message}``: 400
``bad_host``, 401 ``unauthorized``, 408 ``timeout``, 413 ``too_large``, 429 ``rate_limited``.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MIN_KEY_CHARS = 16  # a shorter key can be guessed by a client that tries many
RATE_PERIODS = {"s": 1.0, "sec": 1.0, "min": 60.0}
MAX_CLIENT_BUCKETS = 10_000  # rate-limit buckets kept for client addresses (full ones are dropped first)


@dataclass(frozen=True)
class Rate:
    """``count`` requests per ``period`` seconds, ``count`` of them at once."""

    count: int
    period: float

    @classmethod
    def parse(cls, text: str) -> Rate:
        """``"N/s"`` or ``"N/min"``.

        Raises:
            ValueError: naming the text and the valid forms.
        """
        count, _, unit = text.strip().partition("/")
        if not count.isdigit() or int(count) < 1 or unit not in RATE_PERIODS:
            raise ValueError(f"invalid rate {text!r}: give N/s or N/min with N a positive integer, e.g. 10/s")
        return cls(int(count), RATE_PERIODS[unit])


@dataclass(frozen=True)
class NetworkSettings:
    """Who may talk to the service, and how fast (the ``serve`` flags of the same names)."""

    allowed_hosts: frozenset[str] | None = None  # Host header values (lower case; without port: any port); None: any
    api_keys: dict[str, str] = field(default_factory=dict)  # key -> its name (for logs); empty: no keys needed
    rate_limit: Rate | None = None  # per API key, or per client address without keys
    cors_origins: tuple[str, ...] = ()  # origins whose pages may call the service
    body_timeout: float = 30.0  # seconds to receive a request body, from the end of its headers


def loopback_hosts(port: int) -> frozenset[str]:
    """The Host headers of a server bound to loopback on ``port``."""
    return frozenset(f"{name}:{port}" for name in ("localhost", "127.0.0.1", "[::1]"))


def is_loopback(host: str) -> bool:
    """Whether ``--host`` binds to loopback only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_allowed_hosts(text: str) -> frozenset[str] | None:
    """``"*"`` (None: any Host) or names separated by commas, each ``name`` or ``name:port``."""
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    if names == ["*"]:
        return None
    if not names or "*" in names:
        raise ValueError(f"invalid --allowed-hosts {text!r}: give host names separated by commas, or '*' for any")
    return frozenset(names)


def read_api_keys(path: str | Path) -> dict[str, str]:
    """The keys of a file of one key a line, ``key`` or ``name:key`` (``#`` comments and blank
    lines skipped); unnamed keys are called ``key<line number>``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a short or repeated key, or no key at all, naming the line.
    """
    keys: dict[str, str] = {}
    text = Path(path).read_text(encoding="utf-8")
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, key = line.rpartition(":") if ":" in line else (f"key{number}", "", line)
        name, key = name.strip(), key.strip()
        # The key itself is never part of a message: the message may end up in a log.
        if len(key) < MIN_KEY_CHARS or any(c.isspace() for c in key):
            raise ValueError(f"{path}, line {number}: a key needs {MIN_KEY_CHARS}+ characters and no spaces")
        if key in keys:
            raise ValueError(f"{path}, line {number}: the same key as {keys[key]!r}")
        keys[key] = name or f"key{number}"
    if not keys:
        raise ValueError(f"{path} holds no API key: write one key a line, or name:key")
    return keys


class RejectedRequest(Exception):
    """A request refused before it reaches the app."""

    def __init__(self, status: int, kind: str, detail: str, headers: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__(detail)
        self.status, self.kind, self.detail, self.headers = status, kind, detail, list(headers)

    async def send(self, send: Send) -> None:
        """Answer with the JSON error; the connection is then closed (its body may be unread)."""
        body = json.dumps({"error": self.kind, "detail": self.detail}).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
            *((k.lower().encode(), v.encode()) for k, v in self.headers),
        ]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


async def read_body(receive: Receive, *, limit: int, timeout: float) -> bytes:
    """The whole request body, read as it streams (chunked or not).

    Raises:
        RejectedRequest: 413 ``too_large`` as soon as more than ``limit`` bytes have come (the
            rest is never read), 408 ``timeout`` when the body is not complete ``timeout``
            seconds after the start (a client that trickles it), 499 ``disconnected``.
    """
    chunks, size = [], 0
    deadline = time.monotonic() + timeout
    while True:
        try:
            message = await asyncio.wait_for(receive(), max(0.0, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            raise RejectedRequest(408, "timeout", f"the body did not arrive within {timeout:g} s") from None
        if message["type"] == "http.disconnect":
            raise RejectedRequest(499, "disconnected", "the client closed the connection")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise RejectedRequest(413, "too_large", f"the body is over {limit} bytes; at most {limit}")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` in one message, then passes on to ``receive`` (which
    tells of the disconnect)."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return again


class _Bucket:
    """A token bucket: ``rate.count`` tokens at most, refilled at ``count / period`` a second."""

    __slots__ = ("tokens", "time")

    def __init__(self, rate: Rate, now: float) -> None:
        self.tokens, self.time = float(rate.count), now

    def take(self, rate: Rate, now: float) -> float:
        """Take a token; 0 if there was one, else the seconds until there is."""
        per_second = rate.count / rate.period
        self.tokens = min(float(rate.count), self.tokens + (now - self.time) * per_second)
        self.time = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / per_second


def key_name(keys: dict[str, str], given: str) -> str | None:
    """The name of the key ``given`` among ``keys``, or None when it is none of them."""
    given_bytes = given.strip().encode()
    found = None
    for key, name in keys.items():  # compare_digest with every key: the time tells nothing
        if hmac.compare_digest(key.encode(), given_bytes):
            found = name
    return found


def client_identity(scope: Scope, key: str | None) -> str:
    """Who a request counts against for the rate limit: its API key's name, else its address."""
    return f"key:{key}" if key is not None else f"client:{(scope.get('client') or ('?',))[0]}"


class RateLimiter:
    """Token buckets per client (``client_identity``), shared by every API of the service."""

    def __init__(self, rate: Rate | None) -> None:
        self.rate = rate
        self.buckets: dict[str, _Bucket] = {}

    def check(self, who: str) -> None:
        """Take one request from ``who``'s bucket.

        Raises:
            RejectedRequest: 429 ``rate_limited`` with Retry-After, when the bucket is empty.
        """
        rate = self.rate
        if rate is None:
            return
        now = time.monotonic()
        bucket = self.buckets.get(who)
        if bucket is None:
            if len(self.buckets) >= MAX_CLIENT_BUCKETS:
                self._forget_full(rate, now)
            bucket = self.buckets[who] = _Bucket(rate, now)
        wait = bucket.take(rate, now)
        if wait > 0:
            per = "s" if rate.period == 1 else "min"
            raise RejectedRequest(
                429,
                "rate_limited",
                f"more than {rate.count} requests/{per}; retry in {wait:.1f} s",
                [("Retry-After", str(math.ceil(wait)))],
            )

    def _forget_full(self, rate: Rate, now: float) -> None:
        """Drop the buckets that have refilled (they are as good as new), else the oldest half."""
        full = [
            w for w, b in self.buckets.items() if b.tokens + (now - b.time) * rate.count / rate.period >= rate.count
        ]
        for who in full or sorted(self.buckets, key=lambda w: self.buckets[w].time)[: len(self.buckets) // 2]:
            del self.buckets[who]


class Guard:
    """ASGI middleware in front of the service: Host allowlist (every path), HEAD answered as GET
    without the body, and on ``protected`` paths the API key and the rate limit.

    Args:
        app: the app behind.
        settings: what to allow.
        protected: the paths that need a key and count against the rate limit.
        rejected: called with the kind of every refusal (the error metrics).
        limiter: the rate limit's buckets, when other routes share them (default: its own).
    """

    def __init__(
        self,
        app: ASGIApp,
        settings: NetworkSettings,
        protected: frozenset[str] = frozenset({"/translate"}),
        rejected: Callable[[str], None] | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.app, self.settings, self.protected, self.rejected = app, settings, protected, rejected
        self.limiter = limiter if limiter is not None else RateLimiter(settings.rate_limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            self.check_host(scope)
            if scope["path"] in self.protected and scope["method"] != "OPTIONS":  # a CORS preflight has no key
                self.check_rate(scope, self.authorize(scope))
        except RejectedRequest as err:
            if self.rejected is not None:
                self.rejected(err.kind)
            await err.send(send)
            return
        if scope["method"] == "HEAD":
            scope, send = {**scope, "method": "GET"}, _without_body(send)
        await self.app(scope, receive, send)

    def check_host(self, scope: Scope) -> None:
        allowed = self.settings.allowed_hosts
        if allowed is None:
            return
        host = _header(scope, b"host").lower()
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if host not in allowed and name not in allowed:
            shown = host[:100] or "(none)"
            raise RejectedRequest(
                400, "bad_host", f"Host {shown!r} is not served here; valid: {', '.join(sorted(allowed))}"
            )

    def authorize(self, scope: Scope) -> str | None:
        """The name of the request's key (None when no keys are needed)."""
        keys = self.settings.api_keys
        if not keys:
            return None
        scheme, _, given = _header(scope, b"authorization").partition(" ")
        challenge = [("WWW-Authenticate", 'Bearer realm="m2m100"')]
        if scheme.lower() != "bearer" or not given.strip():
            raise RejectedRequest(401, "unauthorized", "send an API key: Authorization: Bearer KEY", challenge)
        name = key_name(keys, given)
        if name is not None:
            return name
        challenge = [("WWW-Authenticate", 'Bearer realm="m2m100", error="invalid_token"')]
        raise RejectedRequest(401, "unauthorized", "the API key is not valid", challenge)

    def check_rate(self, scope: Scope, key: str | None) -> None:
        self.limiter.check(client_identity(scope, key))


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return ""


def _without_body(send: Send) -> Send:
    """A ``send`` for a HEAD request: the GET answer's status and headers, no body."""

    async def head(message: Message) -> None:
        if message["type"] == "http.response.body":
            message = {**message, "body": b""}
        await send(message)

    return head


def guarded_protocol(*, header_timeout: float) -> type:
    """uvicorn's h11 protocol, changed so that a connection is closed when the headers of a
    request are not complete ``header_timeout`` seconds after the connection opened or the last
    answer was sent (408 if some bytes came, else closed quietly), and after an answer sent
    before the request's body was read (a refused body is not read on)."""
    from uvicorn.protocols.http.h11_impl import H11Protocol, h11

    timeout_body = json.dumps({"error": "timeout", "detail": f"no request headers within {header_timeout:g} s"})
    timeout_answer = (
        "HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
        f"content-length: {len(timeout_body)}\r\n\r\n{timeout_body}"
    ).encode()

    class GuardedH11Protocol(H11Protocol):
        _header_timer: asyncio.TimerHandle | None = None
        _started = False  # bytes of the next request have come

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            self._started = True
            super().data_received(data)

        def handle_events(self) -> None:
            cycle = self.cycle
            super().handle_events()
            if self.cycle is not cycle:  # a request's headers are complete
                self._disarm()

        def on_response_complete(self) -> None:
            if self.conn.their_state is h11.SEND_BODY:
                self.transport.close()  # the rest of the body would be read for nothing
            else:
                self._arm()
            super().on_response_complete()

        def _arm(self) -> None:
            self._disarm()
            self._started = False
            self._header_timer = self.loop.call_later(header_timeout, self._headers_late)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_late(self) -> None:
            self._header_timer = None
            if self.transport.is_closing():
                return
            if self._started:
                self.transport.write(timeout_answer)
            self.transport.close()

    return GuardedH11Protocol
