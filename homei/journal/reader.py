"""Journal entries read through `journalctl --directory=DIR -o json`, as a subprocess.

A subprocess keeps every read off the event loop without a compiled extension, reads any
journal folder (the device's own, or one a container writes), and `--follow` is journald's
own wait for new entries. Each output line is one entry as JSON.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator
from typing import Any

import msgspec

from homei.core.clock import from_epoch
from homei.core.errors import HomeiError, ValidationError

_LOGGER = logging.getLogger(__name__)

# 002's levels from syslog priorities (0 emerg ... 7 debug).
LEVELS = {"error": 3, "warn": 4, "info": 6, "debug": 7}
_LINE_LIMIT = 1024 * 1024  # one entry's JSON; journald's own cap on a message is lower


class JournalUnavailable(HomeiError):
    """The journal cannot be read (no journalctl, an unreadable folder): 503."""

    code = "JOURNAL_UNAVAILABLE"
    status = 503


class JournalEntry(msgspec.Struct, frozen=True):
    """One journal entry in 002's shape, with its unit and cursor."""

    timestamp: str
    level: str
    message: str
    unit: str | None
    cursor: str
    priority: int
    identifier: str | None = None


class JournalQuery(msgspec.Struct, frozen=True, kw_only=True):
    """Which entries: of one unit (`_SYSTEMD_UNIT`), the last `lines`, from `since` (Unix
    time) or after `cursor`, at `priority` or more urgent."""

    unit: str | None = None
    lines: int = 100
    since: float | None = None
    cursor: str | None = None
    priority: int | None = None


def level_of(priority: int) -> str:
    """002's level for a syslog priority."""
    if priority <= LEVELS["error"]:
        return "error"
    if priority == LEVELS["warn"]:
        return "warn"
    return "info" if priority <= LEVELS["info"] else "debug"


def _text(value: Any) -> str:
    # journalctl writes a field that is not valid UTF-8 as a list of its bytes.
    if isinstance(value, list):
        return bytes(v for v in value if isinstance(v, int)).decode(errors="replace")
    return "" if value is None else str(value)


def parse_entry(line: bytes) -> JournalEntry | None:
    """One `journalctl -o json` line as an entry; None for a line that is not one."""
    try:
        raw = msgspec.json.decode(line)
    except msgspec.DecodeError:
        return None
    if not isinstance(raw, dict) or "__CURSOR" not in raw:
        return None
    try:
        priority = int(_text(raw.get("PRIORITY")) or 6)
        micros = int(_text(raw.get("__REALTIME_TIMESTAMP")) or 0)
    except ValueError:
        priority, micros = 6, 0
    unit = raw.get("_SYSTEMD_UNIT") or raw.get("UNIT")
    identifier = raw.get("SYSLOG_IDENTIFIER")
    return JournalEntry(
        timestamp=from_epoch(micros / 1_000_000),
        level=level_of(priority),
        message=_text(raw.get("MESSAGE")),
        unit=_text(unit) if unit is not None else None,
        cursor=_text(raw["__CURSOR"]),
        priority=priority,
        identifier=_text(identifier) if identifier is not None else None,
    )


class Journal:
    """The journal in `directory` (empty: the system journal)."""

    def __init__(self, directory: str, journalctl: str = "journalctl") -> None:
        self._directory = directory
        self._journalctl = journalctl

    def _command(self, query: JournalQuery, *, follow: bool) -> list[str]:
        if query.lines < 0:
            raise ValidationError("lines must not be negative")
        args = [
            self._journalctl,
            "--output=json",
            "--no-pager",
            "--quiet",
            f"--lines={query.lines}",
        ]
        if self._directory:
            args.append(f"--directory={self._directory}")
        if query.since is not None:
            args.append(f"--since=@{query.since:.6f}")
        if query.cursor:
            args.append(f"--after-cursor={query.cursor}")
        if query.priority is not None:
            args.append(f"--priority={query.priority}")
        if follow:
            args.append("--follow")
        if query.unit:
            args.append(f"_SYSTEMD_UNIT={query.unit}")
        return args

    async def _spawn(self, args: list[str]) -> asyncio.subprocess.Process:
        try:
            return await asyncio.create_subprocess_exec(
                *args,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                limit=_LINE_LIMIT,
            )
        except OSError as err:
            raise JournalUnavailable(f"journalctl cannot run: {err}") from err

    async def read(self, query: JournalQuery) -> list[JournalEntry]:
        """The entries the query names, oldest first."""
        if query.lines == 0:
            return []
        process = await self._spawn(self._command(query, follow=False))
        out, err = await process.communicate()
        if process.returncode != 0:
            message = err.decode(errors="replace").strip().splitlines()
            if query.cursor and any("cursor" in m.lower() for m in message):
                raise ValidationError("cursor is not a journal cursor", {"cursor": query.cursor})
            raise JournalUnavailable(
                "the journal cannot be read: " + (message[-1] if message else "journalctl failed")
            )
        return [e for e in map(parse_entry, out.splitlines()) if e is not None]

    async def follow(self, query: JournalQuery) -> AsyncGenerator[JournalEntry, None]:
        """The query's last entries, then each new one as journald writes it; ends only when
        the reader stops (the journalctl process is ended with it)."""
        process = await self._spawn(self._command(query, follow=True))
        assert process.stdout is not None
        try:
            while line := await process.stdout.readline():
                entry = parse_entry(line)
                if entry is not None:
                    yield entry
            await process.wait()
            if process.returncode:
                raise JournalUnavailable("the journal cannot be followed")
        finally:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
            _LOGGER.debug("journal follow of %s ended", query.unit or "the device")


def as_log_line(entry: JournalEntry, *, timestamps: bool) -> str:
    """An entry as a runtime's log line: `TIMESTAMP MESSAGE`, or the message alone."""
    return f"{entry.timestamp} {entry.message}" if timestamps else entry.message
