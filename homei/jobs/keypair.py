"""The device's own SSH key pair (ed25519), made on first use.

The private key is kept sealed with the device key (`aad("system-key", "ed25519")`) in a
0600 file under the secrets folder; the public key, in OpenSSH format, is what an admin
installs in a system's `authorized_keys`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from homei.config.keys import DeviceKey, aad
from homei.core.atomic import write_file_atomic
from homei.core.lazy import load

if TYPE_CHECKING:
    from asyncssh import SSHKey

_AAD = aad("system-key", "ed25519")
FILE_NAME = "ssh_ed25519.sealed"


class DeviceKeyPair:
    """Loads (or makes, once) the key pair; the private key never leaves the process."""

    def __init__(self, secrets_dir: Path, device_key: DeviceKey, comment: str = "homei") -> None:
        self._path = secrets_dir / FILE_NAME
        self._device_key = device_key
        self._comment = comment
        self._key: SSHKey | None = None
        self._lock = asyncio.Lock()

    async def private_key(self) -> SSHKey:
        """The private key, made and written on the first call ever."""
        async with self._lock:
            if self._key is None:
                self._key = await asyncio.to_thread(self._load_or_make)
            return self._key

    async def public_key(self) -> str:
        """`ssh-ed25519 AAAA... homei`, one line."""
        key = await self.private_key()
        return key.export_public_key("openssh").decode().strip()

    async def fingerprint(self) -> str:
        """`SHA256:...` of the public key."""
        key = await self.private_key()
        return str(key.get_fingerprint("sha256"))

    def _load_or_make(self) -> SSHKey:
        asyncssh = load("asyncssh")
        try:
            sealed = self._path.read_bytes()
        except FileNotFoundError:
            key: SSHKey = asyncssh.generate_private_key("ssh-ed25519", comment=self._comment)
            plain = key.export_private_key("openssh")
            self._path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            write_file_atomic(self._path, self._device_key.seal(plain, _AAD), 0o600)
            return key
        loaded: SSHKey = asyncssh.import_private_key(self._device_key.open(sealed, _AAD))
        return loaded
