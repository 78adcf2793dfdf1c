"""Sending a file from the device as a download."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from homei.core.errors import HomeiError

CHUNK_SIZE = 1024 * 1024


async def send_file(
    request: web.Request,
    path: Path,
    *,
    content_type: str,
    filename: str,
    missing: Callable[[], HomeiError],
) -> web.StreamResponse:
    """Stream `path` to the client. The file is opened before anything is sent, so one
    deleted meanwhile is `missing()` in the error envelope, and one deleted during the
    download is still sent whole (the open file outlives its name)."""
    try:
        handle = await asyncio.to_thread(path.open, "rb")
    except FileNotFoundError:
        raise missing() from None
    try:
        size = (await asyncio.to_thread(os.fstat, handle.fileno())).st_size
        response = web.StreamResponse(
            headers={
                "Content-Type": content_type,
                "Content-Disposition": f'attachment; filename="{filename}"',
            }
        )
        response.content_length = size
        await response.prepare(request)
        while chunk := await asyncio.to_thread(handle.read, CHUNK_SIZE):
            await response.write(chunk)
        await response.write_eof()
        return response
    finally:
        await asyncio.to_thread(handle.close)
