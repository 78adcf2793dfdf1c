"""The HTTP server around the application: what a client may hold and how long.

aiohttp reads headers and bodies for as long as a client cares to send them, keeps any
number of connections per client, and answers its own protocol errors in plain text. This
server bounds all three: headers must arrive within `header_timeout` once begun, a body
that sends nothing for `body_stall_timeout` is cut (a moving upload may take as long as it
needs), an idle connection closes after `idle_timeout`, each client address holds at most
`max_connections_per_client` connections, and a malformed request gets the one envelope.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections import Counter
from typing import Any

import msgspec
from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from homei.api.failures import REQUEST_ID, http_error_envelope
from homei.api.routing import JSON, encode
from homei.core.errors import error_envelope

_LOGGER = logging.getLogger(__name__)

SWEEP_INTERVAL = 0.5


class ConnectionLimits(msgspec.Struct, frozen=True):
    """How long a client may take, and how many connections it may hold."""

    header_timeout: float
    body_stall_timeout: float
    idle_timeout: float
    max_connections_per_client: int


def raw_response(status: int, reason: str, envelope: dict[str, Any], **headers: str) -> bytes:
    """A whole HTTP/1.1 answer in the envelope, for when no request object exists yet."""
    body = encode(envelope)
    lines = [
        f"HTTP/1.1 {status} {reason}",
        f"Content-Type: {JSON}",
        f"Content-Length: {len(body)}",
        "Connection: close",
        f"{REQUEST_ID}: {secrets.token_hex(8)}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class GuardedRequestHandler(RequestHandler):
    """One connection, watched by its server's sweeper for headers or a body that stall."""

    def __init__(self, manager: GuardedServer, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self.guarded_by = manager
        self.peer = ""
        self.is_refused = False
        self.headers_began: float | None = None
        self.request_began: float | None = None
        self.last_byte = 0.0
        self.request: web.BaseRequest | None = None

    def data_received(self, data: bytes) -> None:
        """Note when bytes arrive and when a request's headers begin."""
        if data:
            self.last_byte = self._loop.time()
            if self.request is None and self.headers_began is None:
                self.headers_began = self.last_byte
        super().data_received(data)

    def began(self, request: web.BaseRequest) -> None:
        """The request's headers are complete: from now its body is watched."""
        self.request = request
        self.headers_began = None
        self.request_began = self._loop.time()

    def log_access(
        self, request: web.BaseRequest, response: web.StreamResponse, time: float | None
    ) -> None:
        """The answer went out: the connection waits for the next request."""
        self.request = None
        self.request_began = None
        super().log_access(request, response, time)

    def stall(self, now: float, limits: ConnectionLimits) -> str | None:
        """Why this connection should be cut now, if it should."""
        if self.request is None:
            if self.headers_began is not None and now - self.headers_began > limits.header_timeout:
                return "headers"
            return None
        # `_buffer_paused` is newer than the device image's aiohttp.
        paused = self._reading_paused or getattr(self, "_buffer_paused", False)
        if self.request.content.is_eof() or paused:
            # The body is in, or the server is the one not reading (a slow disk).
            return None
        since = max(self.last_byte, self.request_began or 0.0)
        return "body" if now - since > limits.body_stall_timeout else None

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """aiohttp's own refusals (a malformed request line or header), in the envelope."""
        if status >= 500:
            _LOGGER.error("Error handling a request from %s", request.remote, exc_info=exc)
        else:
            _LOGGER.debug("Malformed request from %s: %s", request.remote, message or exc)
        if request.writer.output_size > 0:
            raise ConnectionError("The answer has begun; no error can follow it")
        reason = "Internal server error" if status >= 500 else "Malformed HTTP request"
        response = web.Response(
            body=encode(http_error_envelope(status, reason)),
            status=status,
            content_type=JSON,
            headers={REQUEST_ID: secrets.token_hex(8)},
        )
        response.force_close()
        return response


class GuardedServer(web.Server):
    """aiohttp's server with per-client connection counts and a sweeper for stalls."""

    def __init__(self, plain: web.Server, limits: ConnectionLimits) -> None:
        # The plain server carries the application's handler and handler arguments.
        super().__init__(
            plain.request_handler,
            request_factory=self._begin_request,
            handler_cancellation=plain.handler_cancellation,
            loop=asyncio.get_running_loop(),
            **{**plain._kwargs, "keepalive_timeout": limits.idle_timeout},
        )
        self._make_plain_request = plain.request_factory
        self.limits = limits
        self._per_client: Counter[str] = Counter()
        self._sweeper: asyncio.Task[None] | None = None
        self.refused = 0
        self.timed_out = 0

    def __call__(self) -> RequestHandler:
        return GuardedRequestHandler(self, loop=self._loop, **self._kwargs)

    def _begin_request(self, message: Any, payload: Any, protocol: Any, *args: Any) -> Any:
        request = self._make_plain_request(message, payload, protocol, *args)
        if isinstance(protocol, GuardedRequestHandler):
            protocol.began(request)
        return request

    def connection_made(self, handler: RequestHandler, transport: asyncio.Transport) -> None:
        """Count the client's connections; refuse one over its cap with a 429."""
        super().connection_made(handler, transport)
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep(), name="homei-connection-sweeper")
        if not isinstance(handler, GuardedRequestHandler):
            return
        peername = transport.get_extra_info("peername")
        handler.peer = str(peername[0]) if isinstance(peername, tuple) else "local"
        if self._per_client[handler.peer] >= self.limits.max_connections_per_client:
            handler.is_refused = True
            self.refused += 1
            _LOGGER.debug("Refused a connection from %s: too many open", handler.peer)
            limit = self.limits.max_connections_per_client
            envelope = error_envelope(
                "TOO_MANY_CONNECTIONS",
                f"At most {limit} connections per client",
                {"limit": limit},
            )
            refusal = raw_response(429, "Too Many Requests", envelope, **{"Retry-After": "1"})
            transport.write(refusal)
            # Not `handler.force_close()`: that closes the transport before the handler's
            # task has started, and the task then fails on the connection it lost.
            self._loop.call_soon(transport.close)
            return
        self._per_client[handler.peer] += 1

    def connection_lost(self, handler: RequestHandler, exc: BaseException | None = None) -> None:
        """Release the client's slot."""
        if isinstance(handler, GuardedRequestHandler) and not handler.is_refused:
            self._per_client[handler.peer] -= 1
            if self._per_client[handler.peer] <= 0:
                del self._per_client[handler.peer]
        super().connection_lost(handler, exc)

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_INTERVAL)
            now = self._loop.time()
            for handler in self.connections:
                if not isinstance(handler, GuardedRequestHandler):
                    continue
                stalled = handler.stall(now, self.limits)
                if stalled is not None:
                    self._cut(handler, stalled)

    def _cut(self, handler: GuardedRequestHandler, stalled: str) -> None:
        self.timed_out += 1
        _LOGGER.info("Closing a connection from %s: its %s stalled", handler.peer, stalled)
        transport = handler.transport
        if stalled == "headers" and transport is not None:
            envelope = error_envelope(
                "REQUEST_TIMEOUT", "The request headers did not arrive in time"
            )
            transport.write(raw_response(408, "Request Timeout", envelope))
        handler.force_close()  # closes the transport, after what was written

    async def shutdown(self, timeout: float | None = None) -> None:
        """Stop the sweeper, then the connections."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        await super().shutdown(timeout)


class HomeiRunner(web.AppRunner):
    """An AppRunner serving through a `GuardedServer`."""

    def __init__(self, app: web.Application, limits: ConnectionLimits, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._limits = limits

    async def _make_server(self) -> web.Server:
        return GuardedServer(await super()._make_server(), self._limits)
