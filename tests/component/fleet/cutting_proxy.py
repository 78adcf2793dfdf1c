"""A cutting proxy (a test double for a network that drops): it stands between Homei and
gooseBit, passes every request through, and cuts the body of the first whole artefact
download once, after `cut_after` bytes, by closing the connection. Range requests (the
resume) and everything after the cut pass untouched. The Host header is kept, so the links
gooseBit writes into its answers point back at the proxy."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from tests.ssh_env import free_port

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-encoding", "upgrade"}


class CuttingProxy:
    """`await CuttingProxy(upstream, cut_after=...).start()`; `.url` is where devices go."""

    def __init__(self, upstream: str, *, cut_after: int) -> None:
        self.upstream = upstream
        self.cut_after = cut_after
        self.port = free_port()
        self.cuts = 0  # downloads cut so far (at most one)
        self.ranges: list[str] = []  # Range headers of the downloads seen, in order
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> CuttingProxy:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._session = aiohttp.ClientSession(auto_decompress=False)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        body = await request.read()
        is_download = request.method == "GET" and request.path.endswith("/download")
        if is_download:
            self.ranges.append(request.headers.get("Range", ""))
        async with self._session.request(
            request.method,
            self.upstream + request.path_qs,
            headers=headers,
            data=body or None,
            allow_redirects=False,
        ) as upstream:
            response = web.StreamResponse(status=upstream.status)
            for name, value in upstream.headers.items():
                if name.lower() not in HOP_BY_HOP:
                    response.headers[name] = value
            await response.prepare(request)
            cut = is_download and self.cuts == 0 and "Range" not in request.headers
            sent = 0
            async for chunk in upstream.content.iter_chunked(64 * 1024):
                if cut and sent + len(chunk) >= self.cut_after:
                    await response.write(chunk[: self.cut_after - sent])
                    self.cuts += 1
                    assert request.transport is not None
                    request.transport.close()  # the connection drops mid-body
                    return response
                await response.write(chunk)
                sent += len(chunk)
            await response.write_eof()
            return response
