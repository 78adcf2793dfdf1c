"""Many small writes, one transaction: under load, the executions of a job ending together
share one commit (one fsync) instead of queueing for one each."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from homei.core.store import Store

_LOGGER = logging.getLogger(__name__)

Statement = tuple[str, Sequence[Any]]


class GroupCommit:
    """Writes handed in while a commit is in flight go together in the next one."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._waiting: list[tuple[Sequence[Statement], asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def write(self, statements: Sequence[Statement]) -> None:
        """Commit `statements` atomically, possibly in one transaction with others' writes."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((statements, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain(), name="jobs-group-commit")
        # The write happens even if the caller is cancelled meanwhile.
        await asyncio.shield(done)

    async def _drain(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                await self._store.transaction([s for statements, _ in batch for s in statements])
            except Exception:
                # One bad write must not fail the others: each alone, to tell them apart.
                await self._one_by_one(batch)
                continue
            for _, done in batch:
                if not done.done():
                    done.set_result(None)

    async def _one_by_one(
        self, batch: list[tuple[Sequence[Statement], asyncio.Future[None]]]
    ) -> None:
        for statements, done in batch:
            try:
                await self._store.transaction(statements)
            except Exception as err:
                _LOGGER.warning("A job write failed: %s", err)
                if not done.done():
                    done.set_exception(err)
            else:
                if not done.done():
                    done.set_result(None)
