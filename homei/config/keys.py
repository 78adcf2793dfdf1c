"""The device key: one AES-256-GCM key that seals every secret the device keeps.

It is made once, on the first start, as a 0600 file on the data partition, and its
fingerprint is written into the database beside the secrets it seals. From then on a
missing or damaged key file stops the daemon with one line: making a new key would
silently orphan every secret sealed with the old one.

A sealed value is `version || nonce || ciphertext+tag`. Each value has its own random
nonce, and the caller binds what the value belongs to (service, environment, key name)
in as associated data, so a sealed value moved to another place fails to open.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from homei.core.atomic import write_file_atomic
from homei.core.store import Migration, Store

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
NONCE_BYTES = 12
_VERSION = b"\x01"
_FINGERPRINT_LABEL = b"homei device key fingerprint v1"

MIGRATIONS = (
    Migration(
        "device_key",
        1,
        """
        CREATE TABLE device_key (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            fingerprint TEXT NOT NULL,
            created_at REAL NOT NULL
        );
        """,
    ),
)


class DeviceKeyError(RuntimeError):
    """The key file is missing, unreadable or not the key the database was sealed with."""


class SealError(ValueError):
    """A sealed value did not open: damaged, or sealed for another place or key."""


class DeviceKey:
    """Seals and opens values with the device's AES-256-GCM key."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise DeviceKeyError(f"a device key has {KEY_BYTES} bytes, not {len(key)}")
        self._key = key
        # Made on first use: importing cryptography would cost every start time.
        self._cipher: AESGCM | None = None
        self.fingerprint = hmac.new(key, _FINGERPRINT_LABEL, hashlib.sha256).hexdigest()

    @classmethod
    def generate(cls) -> DeviceKey:
        """A new random key (not yet written anywhere)."""
        return cls(os.urandom(KEY_BYTES))

    def _aead(self) -> AESGCM:
        if self._cipher is None:
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM

            self._cipher = AESGCM(self._key)
        return self._cipher

    @property
    def is_loaded(self) -> bool:
        """Whether the cipher is made (cryptography imported): opening is pure CPU work."""
        return self._cipher is not None

    def adopt(self, key: bytes) -> None:
        """Become another key (a restored backup's): the holders of this one follow."""
        adopted = DeviceKey(key)
        self._key, self._cipher, self.fingerprint = key, None, adopted.fingerprint

    @property
    def material(self) -> bytes:
        """The raw key, for a password-protected backup and nothing else."""
        return self._key

    def seal(self, plaintext: bytes, aad: bytes) -> bytes:
        """Encrypt `plaintext` bound to `aad`, with a fresh nonce."""
        nonce = os.urandom(NONCE_BYTES)
        return _VERSION + nonce + self._aead().encrypt(nonce, plaintext, aad)

    def open(self, sealed: bytes, aad: bytes) -> bytes:
        """Decrypt what `seal` made with the same `aad`; `SealError` otherwise."""
        if len(sealed) < 1 + NONCE_BYTES + 16 or sealed[:1] != _VERSION:
            raise SealError("not a sealed value of this device")
        nonce, body = sealed[1 : 1 + NONCE_BYTES], sealed[1 + NONCE_BYTES :]
        cipher = self._aead()
        try:
            return cipher.decrypt(nonce, body, aad)
        except Exception as err:  # cryptography's InvalidTag, imported only with the cipher
            if type(err).__name__ != "InvalidTag":
                raise
            raise SealError("the sealed value does not open with this key and place") from None


def aad(*parts: str) -> bytes:
    """Associated data naming where a value belongs, unambiguous for any part contents."""
    return b"\x00".join(part.encode() for part in parts)


def _read_key(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as err:
        raise DeviceKeyError(f"device key {path} cannot be read: {err.strerror}") from None


async def open_device_key(store: Store, path: Path) -> DeviceKey:
    """The device key: created on the very first start, checked against the database after.

    Raises `DeviceKeyError` (one line, meant for the operator) when the database knows a
    key and the file is missing, damaged or another key.
    """
    row = await store.fetch_one("SELECT fingerprint FROM device_key WHERE id = 1")
    if row is not None:
        await asyncio.to_thread(finish_restore, path, row["fingerprint"])
    data = await asyncio.to_thread(_read_key, path)
    if row is None:
        if data is not None:
            key = DeviceKey(data) if len(data) == KEY_BYTES else None
            if key is None:
                raise DeviceKeyError(f"device key {path} is damaged ({len(data)} bytes)")
        else:
            key = DeviceKey.generate()
            await asyncio.to_thread(write_file_atomic, path, key.material, 0o600)
        await store.execute(
            "INSERT INTO device_key (id, fingerprint, created_at) VALUES (1, ?, ?)",
            (key.fingerprint, time.time()),
        )
        return key
    if data is None:
        raise DeviceKeyError(
            f"device key {path} is missing; the secrets in the database need it "
            "(restore the file, or a password-protected backup that holds it)"
        )
    if len(data) != KEY_BYTES:
        raise DeviceKeyError(f"device key {path} is damaged ({len(data)} bytes)")
    key = DeviceKey(data)
    if not hmac.compare_digest(key.fingerprint, row["fingerprint"]):
        raise DeviceKeyError(f"device key {path} is not the key this device's secrets need")
    return key


def restored_path(path: Path) -> Path:
    """Where a restore puts the backup's key before its database is swapped in."""
    return path.with_name(path.name + ".restored")


def finish_restore(path: Path, fingerprint: str) -> None:
    """After a crash in a restore: the restored key replaces the file when the database is
    the restored one (its fingerprint says so), and is dropped when it is not. Blocking."""
    staged = restored_path(path)
    data = _read_key(staged)
    if data is None:
        return
    if len(data) == KEY_BYTES and hmac.compare_digest(DeviceKey(data).fingerprint, fingerprint):
        os.replace(staged, path)
    else:
        staged.unlink(missing_ok=True)
