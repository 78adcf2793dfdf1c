"""`manifest.json`: what a backup holds, checked before anything in it is used."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated

import msgspec

from homei.core.errors import HomeiError

FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
HOMEI_PART = "homei"
MAX_MANIFEST = 1024 * 1024
SERVICE_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")


class BackupError(HomeiError):
    """A backup that cannot be read or used: corrupt, foreign or hostile."""

    code = "BACKUP_ERROR"
    status = 400


class BackupType(StrEnum):
    FULL = "full"
    PARTIAL = "partial"


class Encryption(msgspec.Struct, frozen=True):
    cipher: str
    kdf: str
    salt: str
    n: int
    r: int
    p: int
    check: str
    chunk: int


class Part(msgspec.Struct, frozen=True):
    """One separately restorable piece: Homei itself, or one service."""

    name: str  # "homei" or "service:<name>"
    member: str  # its path inside the outer tar
    size: int  # bytes stored (compressed, encrypted)
    raw_size: int  # bytes of the uncompressed inner tar
    sha256: str
    files: int
    dirs: list[str] = []  # the part-relative folders it restores ("config", "volumes/x")


class BackupManifest(msgspec.Struct, frozen=True, kw_only=True):
    format: int
    id: str
    name: str
    homei_version: str
    created: str
    type: BackupType
    include_data: bool
    homei: bool
    services: list[str]
    parts: list[Part]
    encryption: Encryption | None = None

    @property
    def is_encrypted(self) -> bool:
        return self.encryption is not None

    @property
    def size(self) -> int:
        return sum(part.size for part in self.parts)

    def part(self, name: str) -> Part | None:
        return next((p for p in self.parts if p.name == name), None)


def service_part(name: str) -> str:
    return f"service:{name}"


def member_for(part: str, encrypted: bool) -> str:
    stem = "homei" if part == HOMEI_PART else f"services/{part.removeprefix('service:')}"
    return f"parts/{stem}.tar.zst{'.enc' if encrypted else ''}"


Sha256 = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{64}$")]


def encode(manifest: BackupManifest) -> bytes:
    return msgspec.json.format(msgspec.json.encode(manifest), indent=2)


def decode(raw: bytes) -> BackupManifest:
    """The manifest, or `BackupError` saying why it is unusable."""
    try:
        manifest = msgspec.json.decode(raw, type=BackupManifest)
    except (msgspec.ValidationError, msgspec.DecodeError) as err:
        raise BackupError(f"The backup's manifest is unreadable: {err}") from None
    if manifest.format != FORMAT_VERSION:
        raise BackupError(
            f"Backup format {manifest.format} is not supported (this Homei reads {FORMAT_VERSION})",
            {"format": manifest.format},
        )
    expected = {HOMEI_PART} if manifest.homei else set()
    for service in manifest.services:
        if not SERVICE_NAME.match(service):
            raise BackupError(f"The manifest names an invalid service '{service[:80]}'")
        expected.add(service_part(service))
    names = [p.name for p in manifest.parts]
    if len(names) != len(set(names)) or set(names) != expected:
        raise BackupError("The manifest's parts do not match its services")
    for part in manifest.parts:
        if part.member != member_for(part.name, manifest.is_encrypted):
            raise BackupError(f"The manifest places part '{part.name}' at an unexpected path")
        if not re.fullmatch(r"[0-9a-f]{64}", part.sha256) or part.size < 0:
            raise BackupError(f"The manifest's entry of part '{part.name}' is malformed")
    return manifest
