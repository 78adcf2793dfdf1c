"""Systems' passwords, sealed with the device key and bound to their system.

A password is sealed with `aad("system", id, "password")`, so a sealed value copied onto
another system's row does not open. Nothing here returns a password to the API or logs it:
only the SSH connection asks for one, at the moment it logs in.
"""

from __future__ import annotations

import asyncio
from typing import Any

from homei.config.keys import DeviceKey, SealError, aad
from homei.core.errors import ValidationError
from homei.core.store import Store

MAX_PASSWORD = 1024


class CredentialError(ValidationError):
    code = "VALIDATION_ERROR"


class Credentials:
    """Seals, stores and opens systems' passwords."""

    def __init__(self, store: Store, device_key: DeviceKey) -> None:
        self._store = store
        self._key = device_key

    async def password_row(self, system_id: str, password: str) -> tuple[str, tuple[Any, ...]]:
        """The statement that stores `password` sealed, to run with the system's own write."""
        if not password or len(password) > MAX_PASSWORD or "\x00" in password:
            raise CredentialError(
                f"Invalid password: 1-{MAX_PASSWORD} characters", {"field": "password"}
            )
        sealed = await asyncio.to_thread(
            self._key.seal, password.encode(), aad("system", system_id, "password")
        )
        return (
            "INSERT INTO system_secrets (system_id, password) VALUES (?, ?)"
            " ON CONFLICT(system_id) DO UPDATE SET password = excluded.password",
            (system_id, sealed),
        )

    async def password(self, system_id: str) -> str | None:
        """The system's password, or None when it logs in with the device's key."""
        row = await self._store.fetch_one(
            "SELECT password FROM system_secrets WHERE system_id = ?", (system_id,)
        )
        if row is None:
            return None
        try:
            plain = await asyncio.to_thread(
                self._key.open, bytes(row[0]), aad("system", system_id, "password")
            )
        except SealError:
            return None  # damaged or moved: the login fails as if no password were set
        return plain.decode()
