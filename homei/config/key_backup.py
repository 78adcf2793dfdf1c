"""The device key in backups: only in password-protected ones, so a restore onto another
device (another key) opens the secrets; never in a backup anyone can read.

A restore that brings a key swaps it in crash-safely: the key is written beside the live
one first, the database is swapped, then the key file is replaced; `open_device_key`
finishes or drops a half-done one at the next start by the database's fingerprint. A backup
without the key whose secrets were sealed by another device's key is refused, saying so:
its secrets could never be opened here.
"""

from __future__ import annotations

import asyncio
import hmac
from pathlib import Path

from homei.backup.manifest import BackupError
from homei.config.keys import KEY_BYTES, DeviceKey, restored_path
from homei.core.atomic import fsync_dir, write_file_atomic
from homei.core.store import Store

KEY_FILE = "device.key"


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


class DeviceKeyBackup:
    """What Homei's part of a backup does with the device key."""

    def __init__(self, key: DeviceKey, path: Path) -> None:
        self._key = key
        self._path = path

    def files(self, *, encrypted: bool) -> dict[str, bytes]:
        """The key, for a password-protected backup only."""
        return {KEY_FILE: self._key.material} if encrypted else {}

    async def prepare(self, staged: Path, copy: Store) -> None:
        """Check the staged database against the key it comes with (or this device's)."""
        row = await copy.fetch_one("SELECT fingerprint FROM device_key WHERE id = 1")
        data = await asyncio.to_thread(_read, staged / KEY_FILE)
        if data is not None:
            if len(data) != KEY_BYTES or (
                row is not None
                and not hmac.compare_digest(DeviceKey(data).fingerprint, row["fingerprint"])
            ):
                raise BackupError("The backup's device key does not match its database")
            if row is None:
                await copy.execute(
                    "INSERT INTO device_key (id, fingerprint, created_at) VALUES (1, ?, 0)",
                    (DeviceKey(data).fingerprint,),
                )
            return
        if row is None or hmac.compare_digest(row["fingerprint"], self._key.fingerprint):
            return
        sealed = await copy.fetch_one("SELECT count(*) FROM service_config WHERE secrets != '{}'")
        if sealed is not None and sealed[0]:
            raise BackupError(
                "This backup's secrets are sealed with another device's key, which only a"
                " password-protected backup carries: restore a password-protected backup"
                " of that device (nothing was changed)",
                {"reason": "device_key_missing"},
            )
        # Nothing sealed: the restored database takes this device's key.
        await copy.execute(
            "UPDATE device_key SET fingerprint = ? WHERE id = 1", (self._key.fingerprint,)
        )

    async def stage(self, staged: Path) -> bytes | None:
        """Before the database is swapped in: the backup's key beside the live one."""
        data = await asyncio.to_thread(_read, staged / KEY_FILE)
        if data is None or hmac.compare_digest(data, self._key.material):
            return None
        await asyncio.to_thread(write_file_atomic, restored_path(self._path), data, 0o600)
        return data

    async def commit(self, data: bytes | None) -> None:
        """After the database is swapped in: the backup's key is the device's key."""
        if data is None:
            return
        await asyncio.to_thread(_replace, restored_path(self._path), self._path)
        self._key.adopt(data)


def _replace(source: Path, target: Path) -> None:
    source.replace(target)
    fsync_dir(target.parent)
