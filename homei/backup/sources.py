"""What a backup takes from the services part of Homei, and nothing more: the backup engine
depends on services only through `ServiceData`, implemented by `homei/services/`."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Literal, Protocol

BackupMode = Literal["stop", "pause", "live"]


class ServiceData(Protocol):
    async def service_names(self) -> list[str]:
        """Every declared service, sorted."""
        ...

    async def export_spec(self, name: str) -> bytes:
        """The service's declared spec as JSON bytes; a `NotFound` error if unknown."""
        ...

    async def data_dirs(self, name: str, include_data: bool) -> dict[str, Path]:
        """Part-relative key -> host folder. Always "config" -> the service's configuration
        folder (it may not exist yet: then nothing is backed up for it). With
        `include_data` also "volumes/<volume>" -> the Docker volume's mountpoint and
        "binds/<n>" -> a bind-mount's source folder, and "state" -> a native service's
        state folder."""
        ...

    async def backup_mode(self, name: str) -> BackupMode:
        """How the service's data is made consistent: stopped, paused, or read live."""
        ...

    def quiesced(self, name: str, mode: str) -> AbstractAsyncContextManager[None]:
        """Stop or pause the service (nothing for "live"); on exit, also on error, bring it
        back to the state it was in."""
        ...

    def stopped(self, names: list[str]) -> AbstractAsyncContextManager[None]:
        """For a restore: stop these services (in dependency order), yield, then start again
        those that were running before."""
        ...

    async def import_spec(self, name: str, spec_json: bytes) -> None:
        """Create or replace the declared spec without starting it (inside `stopped`)."""
        ...
