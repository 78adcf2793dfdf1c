"""`/api/v1/logs`: the device's own journal in 002's shape, with each entry's unit and cursor."""

from __future__ import annotations

import contextlib
from typing import Annotated, Literal

import msgspec
from aiohttp import web

from homei.api.routing import endpoint
from homei.core.auth import Permission
from homei.journal.reader import LEVELS, Journal, JournalEntry, JournalQuery

UnitName = Annotated[str, msgspec.Meta(min_length=1, max_length=256, pattern=r"^[\w@.:-]+$")]
Cursor = Annotated[str, msgspec.Meta(min_length=1, max_length=1024, pattern=r"^[\w=;:-]+$")]


class DeviceLogQuery(msgspec.Struct):
    level: Literal["debug", "info", "warn", "error"] | None = None
    limit: Annotated[int, msgspec.Meta(ge=0, le=10_000)] = 100
    since: Annotated[int, msgspec.Meta(ge=0, le=2**40, description="Unix time")] | None = None
    unit: UnitName | None = None
    cursor: Annotated[Cursor, msgspec.Meta(description="Entries after this one")] | None = None
    follow: bool = False


class DeviceLogEntry(msgspec.Struct):
    timestamp: str
    level: str
    message: str
    unit: str | None
    identifier: str | None
    cursor: str


class DeviceLogs(msgspec.Struct):
    logs: list[DeviceLogEntry]


def _out(entry: JournalEntry) -> DeviceLogEntry:
    return DeviceLogEntry(
        entry.timestamp, entry.level, entry.message, entry.unit, entry.identifier, entry.cursor
    )


class DeviceLogsApi:
    def __init__(self, journal: Journal) -> None:
        self._journal = journal

    @endpoint(
        "GET",
        "/api/v1/logs",
        summary="Device logs",
        tag="system",
        permission=Permission.CONTROL,
        query=DeviceLogQuery,
        response=DeviceLogs,
        errors=(503,),
    )
    async def logs(
        self, request: web.Request, query: DeviceLogQuery
    ) -> web.StreamResponse | DeviceLogs:
        """The journal's last `limit` entries, newest first, at `level` or more urgent, of one
        systemd `unit` if given, from `since` or after `cursor`. `follow=true` streams them
        oldest first and then each new one, one JSON object a line (`application/x-ndjson`)."""
        journal_query = JournalQuery(
            unit=query.unit,
            lines=query.limit,
            since=query.since,
            cursor=query.cursor,
            priority=LEVELS[query.level] if query.level else None,
        )
        if not query.follow:
            entries = await self._journal.read(journal_query)
            return DeviceLogs([_out(e) for e in reversed(entries)])
        # One read first, so an unreadable journal or a bad cursor is an error in the
        # envelope, not a stream cut short.
        await self._journal.read(msgspec.structs.replace(journal_query, lines=1))
        response = web.StreamResponse(
            headers={"Content-Type": "application/x-ndjson", "Cache-Control": "no-store"}
        )
        await response.prepare(request)
        # Closed with the response, so a client that leaves ends journalctl at once.
        async with contextlib.aclosing(self._journal.follow(journal_query)) as stream:
            async for entry in stream:
                await response.write(msgspec.json.encode(_out(entry)) + b"\n")
        await response.write_eof()
        return response
