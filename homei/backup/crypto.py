"""Password encryption of backup parts: AES-256-GCM in chunked frames (the STREAM
construction), so memory stays bounded and no plaintext is released unauthenticated.

A part starts with a header (magic, version, chunk size, a random salt) that is bound
into every frame as associated data, together with the part's name. Each frame's nonce
holds its index and a flag marking the last frame, so frames that are reordered, dropped,
repeated, cut off at the end or followed by more data all fail to authenticate.
"""

from __future__ import annotations

import base64
import hashlib
import os
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAGIC = b"HOMEIENC"
VERSION = 1
CHUNK = 1024 * 1024
TAG = 16
SALT = 16
_HEADER = struct.Struct(">8sBI16s")
HEADER_SIZE = _HEADER.size
CIPHER = "AES-256-GCM"
KDF = "scrypt"
SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
_CHECK = b"homei-backup-key-check"


class DecryptionError(Exception):
    """A part that does not authenticate: a wrong password, or changed or cut-off data."""


@dataclass(frozen=True, slots=True)
class KeyParams:
    """How a backup's key is derived from its password, as recorded in the manifest."""

    salt: str
    n: int = SCRYPT_N
    r: int = SCRYPT_R
    p: int = SCRYPT_P

    @classmethod
    def fresh(cls) -> KeyParams:
        return cls(base64.b64encode(os.urandom(SALT)).decode())


def derive_key(password: str, params: KeyParams) -> bytes:
    """scrypt(password, salt): blocking and deliberately slow; call it on a thread."""
    return hashlib.scrypt(
        password.encode(),
        salt=base64.b64decode(params.salt),
        n=params.n,
        r=params.r,
        p=params.p,
        maxmem=256 * params.r * params.n,
        dklen=32,
    )


def key_check(key: bytes, backup_id: str) -> str:
    """A value that proves a key right before any part is read (stored in the manifest)."""
    nonce = hashlib.sha256(backup_id.encode()).digest()[:12]
    return base64.b64encode(AESGCM(key).encrypt(nonce, _CHECK, backup_id.encode())).decode()


def is_right_key(key: bytes, backup_id: str, check: str) -> bool:
    """True when `key` opens the manifest's key check."""
    nonce = hashlib.sha256(backup_id.encode()).digest()[:12]
    try:
        AESGCM(key).decrypt(nonce, base64.b64decode(check), backup_id.encode())
    except (InvalidTag, ValueError):
        return False
    return True


def _part_cipher(key: bytes, salt: bytes) -> AESGCM:
    subkey = HKDF(hashes.SHA256(), 32, salt, b"homei-backup part").derive(key)
    return AESGCM(subkey)


def _nonce(index: int, last: bool) -> bytes:
    return index.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


class Encryptor:
    """Push plaintext in, get frames out; `finish` returns the last frame."""

    def __init__(self, key: bytes, part: str, chunk: int = CHUNK) -> None:
        salt = os.urandom(SALT)
        self.header = _HEADER.pack(MAGIC, VERSION, chunk, salt)
        self._aad = self.header + part.encode()
        self._cipher = _part_cipher(key, salt)
        self._chunk = chunk
        self._buffer = bytearray()
        self._index = 0

    def update(self, data: bytes) -> bytes:
        """Frames for every whole chunk that is surely not the last one."""
        self._buffer += data
        out = bytearray()
        # Keep at least one byte back: the last frame must be flagged as last.
        while len(self._buffer) > self._chunk:
            out += self._seal(bytes(self._buffer[: self._chunk]), last=False)
            del self._buffer[: self._chunk]
        return bytes(out)

    def finish(self) -> bytes:
        frame = self._seal(bytes(self._buffer), last=True)
        self._buffer.clear()
        return frame

    def _seal(self, plain: bytes, *, last: bool) -> bytes:
        frame = self._cipher.encrypt(_nonce(self._index, last), plain, self._aad)
        self._index += 1
        return frame


class Decryptor:
    """Push frames in, get authenticated plaintext out; `finish` checks the stream ended
    with its last frame."""

    def __init__(self, key: bytes, part: str) -> None:
        self._key = key
        self._part = part.encode()
        self._cipher: AESGCM | None = None
        self._aad = b""
        self._frame = 0
        self._buffer = bytearray()
        self._index = 0
        self._done = False

    def update(self, data: bytes) -> bytes:
        self._buffer += data
        if self._cipher is None:
            if len(self._buffer) < HEADER_SIZE:
                return b""
            self._read_header(bytes(self._buffer[:HEADER_SIZE]))
            del self._buffer[:HEADER_SIZE]
        plain: list[bytes] = []
        # A whole frame followed by more data is not the last one. Frames are opened in
        # place; the buffer is cut once (cheap at its front).
        used = 0
        with memoryview(self._buffer) as view:
            while len(view) - used > self._frame:
                plain.append(self._open(view[used : used + self._frame], last=False))
                used += self._frame
        del self._buffer[:used]
        return b"".join(plain)

    def finish(self) -> bytes:
        if self._cipher is None:
            raise DecryptionError("the encrypted part is cut off before its header ends")
        if self._done:
            raise DecryptionError("the encrypted part continues after its last frame")
        plain = self._open(bytes(self._buffer), last=True)
        self._buffer.clear()
        self._done = True
        return plain

    def _read_header(self, header: bytes) -> None:
        magic, version, chunk, salt = _HEADER.unpack(header)
        if magic != MAGIC or version != VERSION or not 0 < chunk <= 64 * CHUNK:
            raise DecryptionError("not an encrypted part of a Homei backup")
        self._cipher = _part_cipher(self._key, salt)
        self._aad = header + self._part
        self._frame = chunk + TAG

    def _open(self, frame: bytes | memoryview, *, last: bool) -> bytes:
        assert self._cipher is not None
        if len(frame) < TAG:
            raise DecryptionError("the encrypted part is cut off")
        try:
            plain = self._cipher.decrypt(_nonce(self._index, last), frame, self._aad)
        except InvalidTag:
            raise DecryptionError(
                "the encrypted part does not authenticate (wrong password, or changed or "
                "cut-off data)"
            ) from None
        self._index += 1
        return plain
