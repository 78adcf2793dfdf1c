"""The device key: sealing binds each value to its place, and a lost key is never replaced."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from homei.config.keys import MIGRATIONS, DeviceKey, DeviceKeyError, SealError, aad, open_device_key
from homei.core.store import Store


def test_sealed_value_opens_only_in_its_place() -> None:
    key = DeviceKey.generate()
    sealed = key.seal(b"hunter2", aad("web", "production", "DB_PASSWORD"))
    assert b"hunter2" not in sealed
    assert key.open(sealed, aad("web", "production", "DB_PASSWORD")) == b"hunter2"
    with pytest.raises(SealError):
        key.open(sealed, aad("web", "staging", "DB_PASSWORD"))
    with pytest.raises(SealError):
        DeviceKey.generate().open(sealed, aad("web", "production", "DB_PASSWORD"))
    damaged = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(SealError):
        key.open(damaged, aad("web", "production", "DB_PASSWORD"))


def test_each_value_has_its_own_nonce() -> None:
    key = DeviceKey.generate()
    assert key.seal(b"same", b"x") != key.seal(b"same", b"x")


def test_aad_parts_cannot_run_together() -> None:
    assert aad("ab", "c") != aad("a", "bc")


async def test_key_made_once_then_required(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "db.sqlite", MIGRATIONS)
    path = tmp_path / "secrets" / "device.key"
    try:
        first = await open_device_key(store, path)
        assert os.stat(path).st_mode & 0o777 == 0o600
        again = await open_device_key(store, path)
        assert again.fingerprint == first.fingerprint

        path.unlink()
        with pytest.raises(DeviceKeyError, match="missing"):
            await open_device_key(store, path)
        assert not path.exists()  # never silently replaced

        path.write_bytes(b"short")
        with pytest.raises(DeviceKeyError, match="damaged"):
            await open_device_key(store, path)

        path.write_bytes(os.urandom(32))
        with pytest.raises(DeviceKeyError, match="not the key"):
            await open_device_key(store, path)
    finally:
        await store.close()
