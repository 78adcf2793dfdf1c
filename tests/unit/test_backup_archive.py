"""The backup file format on its own: parts round-trip byte for byte, encryption holds
against a wrong key and tampering, and hostile archives are refused."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest

from homei.backup import crypto
from homei.backup.archive import BackupReader
from homei.backup.extract import HostileArchive
from homei.backup.manifest import BackupError, BackupManifest, BackupType, Part, encode
from homei.backup.writer import BackupWriter
from tests.backup_files import crafted_backup, fill_tree, inner_tar, snapshot

TOPS = frozenset({"config", "volumes/data"})


def write_backup(path: Path, sources: dict[str, Path | bytes], key: bytes | None) -> Part:
    member = "parts/services/app.tar.zst" + (".enc" if key else "")
    with path.open("wb") as out:
        writer = BackupWriter(out, key)
        written = writer.add_part(member, sources)
        part = Part(
            "service:app", member, written.size, written.raw_size, written.sha256,
            written.files, sorted(sources),
        )  # fmt: skip
        encryption = None
        if key is not None:
            encryption = {
                "cipher": crypto.CIPHER, "kdf": "scrypt", "salt": "", "n": 1, "r": 1, "p": 1,
                "check": crypto.key_check(key, "b1"), "chunk": crypto.CHUNK,
            }  # fmt: skip
        manifest = BackupManifest(
            format=1, id="b1", name=path.name, homei_version="0.1.0", created="now",
            type=BackupType.PARTIAL, include_data=True, homei=False, services=["app"],
            parts=[part], encryption=encryption,
        )  # fmt: skip
        writer.finish(encode(manifest))
    return part


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "source"
    fill_tree(root / "config", "config")
    fill_tree(root / "data", "data", size=3_000_000)
    return root


@pytest.mark.parametrize("encrypted", [False, True])
def test_a_part_round_trips_byte_for_byte(tmp_path: Path, tree: Path, encrypted: bool):
    key = os.urandom(32) if encrypted else None
    backup = tmp_path / "b.tar"
    write_backup(backup, {"config": tree / "config", "volumes/data": tree / "data"}, key)
    # The outer file is an ordinary tar: the manifest is last, the part is where it says.
    with tarfile.open(backup) as outer:
        assert outer.getnames() == [
            "parts/services/app.tar.zst" + (".enc" if encrypted else ""),
            "manifest.json",
        ]
    staging = tmp_path / "staging"
    staging.mkdir()
    with BackupReader(backup) as reader:
        assert reader.manifest.is_encrypted is encrypted
        reader.extract(reader.manifest.parts[0], key, staging, TOPS)
    assert snapshot(staging / "config") == snapshot(tree / "config")
    assert snapshot(staging / "volumes/data") == snapshot(tree / "data")
    assert (
        os.stat(staging / "config/notes.txt").st_ino
        == os.stat(staging / "config/hardlink.txt").st_ino
    )


def test_compression_shrinks_text(tmp_path: Path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "text").write_text("the same line again\n" * 200_000)
    part = write_backup(tmp_path / "b.tar", {"config": tmp_path / "d"}, None)
    assert part.raw_size > 4_000_000 and part.size < part.raw_size / 50


def test_a_wrong_key_is_refused_before_and_while_reading(tmp_path: Path, tree: Path):
    key, wrong = os.urandom(32), os.urandom(32)
    backup = tmp_path / "b.tar"
    write_backup(backup, {"config": tree / "config"}, key)
    with BackupReader(backup) as reader:
        check = reader.manifest.encryption.check
        assert crypto.is_right_key(key, "b1", check)
        assert not crypto.is_right_key(wrong, "b1", check)
        staging = tmp_path / "staging"
        staging.mkdir()
        with pytest.raises(BackupError, match="does not authenticate"):
            reader.extract(reader.manifest.parts[0], wrong, staging, TOPS)
    assert not (staging / "config" / "notes.txt").exists()


def test_a_flipped_byte_fails_the_checksum(tmp_path: Path, tree: Path):
    backup = tmp_path / "b.tar"
    part = write_backup(backup, {"config": tree / "config"}, None)
    data = bytearray(backup.read_bytes())
    data[512 + part.size // 2] ^= 0x40
    backup.write_bytes(bytes(data))
    with BackupReader(backup) as reader, pytest.raises(BackupError):
        reader.verify(reader.manifest.parts[0], None)


def seal(key: bytes, plain: bytes, chunk: int) -> tuple[bytes, list[bytes]]:
    encryptor = crypto.Encryptor(key, "part", chunk=chunk)
    body = encryptor.update(plain) + encryptor.finish()
    frame = chunk + crypto.TAG
    return encryptor.header, [body[i : i + frame] for i in range(0, len(body), frame)]


def unseal(key: bytes, data: bytes, part: str = "part") -> bytes:
    decryptor = crypto.Decryptor(key, part)
    out = b""
    for i in range(0, len(data), 7):  # odd slices: framing must not depend on them
        out += decryptor.update(data[i : i + 7])
    return out + decryptor.finish()


@pytest.mark.parametrize("length", [0, 1, 64, 65, 128, 200])
def test_frames_round_trip_at_every_boundary(length: int):
    key = os.urandom(32)
    plain = os.urandom(length)
    header, frames = seal(key, plain, 64)
    assert unseal(key, header + b"".join(frames)) == plain


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda h, f: h + b"".join(f[:-1]), id="last-frame-dropped"),
        pytest.param(lambda h, f: h + f[1] + f[0] + b"".join(f[2:]), id="reordered"),
        pytest.param(lambda h, f: h + b"".join(f) + f[-1], id="extended"),
        pytest.param(lambda h, f: h + f[0] + b"".join(f), id="repeated"),
        pytest.param(lambda h, f: h + b"".join(f)[:-1], id="truncated"),
        pytest.param(lambda h, f: h[:-1] + bytes([h[-1] ^ 1]) + b"".join(f), id="header"),
    ],
)
def test_tampered_frames_never_release_plaintext(tamper):
    key = os.urandom(32)
    header, frames = seal(key, os.urandom(300), 64)
    assert len(frames) == 5
    decryptor = crypto.Decryptor(key, "part")
    released: list[bytes] = []

    def feed() -> None:
        released.append(decryptor.update(tamper(header, frames)))
        released.append(decryptor.finish())

    with pytest.raises(crypto.DecryptionError):
        feed()
    # Whatever came out before the failure is whole frames that did authenticate.
    assert all(len(chunk) % 64 == 0 for chunk in released)


def test_a_frame_of_another_part_does_not_authenticate():
    key = os.urandom(32)
    header, frames = seal(key, b"secret", 64)
    with pytest.raises(crypto.DecryptionError):
        unseal(key, header + b"".join(frames), part="another")


def test_scrypt_key_depends_on_password_and_salt():
    params = crypto.KeyParams.fresh()
    key = crypto.derive_key("correct horse", params)
    assert key == crypto.derive_key("correct horse", params)
    assert key != crypto.derive_key("wrong horse", params)
    assert key != crypto.derive_key("correct horse", crypto.KeyParams.fresh())


def member(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"x", **extra):
    info = tarfile.TarInfo(name)
    info.type, info.size, info.mode = kind, len(data) if kind == tarfile.REGTYPE else 0, 0o644
    for key, value in extra.items():
        setattr(info, key, value)
    return info, data if kind == tarfile.REGTYPE else None


HOSTILE = {
    "absolute": [member("/tmp/homei-escape")],
    "dot-dot": [member("config/../../homei-escape")],
    "other-top": [member("secrets/x")],
    "symlink-out": [member("config/l", tarfile.SYMTYPE, linkname="/etc")],
    "symlink-up": [member("config/l", tarfile.SYMTYPE, linkname="../../..")],
    "write-through-link": [
        member("config/l", tarfile.SYMTYPE, linkname="sub"),
        member("config/l/x"),
    ],
    "hardlink-out": [member("config/h", tarfile.LNKTYPE, linkname="/etc/passwd")],
    "device": [member("config/null", tarfile.CHRTYPE, devmajor=1, devminor=3)],
    "fifo": [member("config/fifo", tarfile.FIFOTYPE)],
    "duplicate": [member("config/a"), member("config/a")],
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_members_are_refused(tmp_path: Path, case: str):
    backup = tmp_path / "hostile.tar"
    crafted_backup(backup, "app", inner_tar(HOSTILE[case]))
    staging = tmp_path / "staging"
    staging.mkdir()
    with BackupReader(backup) as reader, pytest.raises(HostileArchive):
        reader.extract(reader.manifest.parts[0], None, staging, TOPS)
    assert not (tmp_path / "homei-escape").exists()
    assert not Path("/tmp/homei-escape").exists()


def test_more_bytes_than_announced_are_refused(tmp_path: Path):
    backup = tmp_path / "huge.tar"
    big = inner_tar([member("config/big", data=b"\0" * 1_000_000)])
    crafted_backup(backup, "app", big, raw_size=1000)
    staging = tmp_path / "staging"
    staging.mkdir()
    with BackupReader(backup) as reader, pytest.raises(HostileArchive, match="more than"):
        reader.extract(reader.manifest.parts[0], None, staging, TOPS)


@pytest.mark.parametrize(
    "content",
    [b"", b"not a tar at all" * 100, b"\0" * 4096],
    ids=["empty", "garbage", "zeros"],
)
def test_files_that_are_no_backup_are_refused(tmp_path: Path, content: bytes):
    path = tmp_path / "x.tar"
    path.write_bytes(content)
    with pytest.raises(BackupError):
        BackupReader(path)


def test_a_cut_off_backup_is_refused(tmp_path: Path, tree: Path):
    backup = tmp_path / "b.tar"
    write_backup(backup, {"config": tree / "config"}, None)
    data = backup.read_bytes()
    backup.write_bytes(data[: len(data) // 2])
    with pytest.raises(BackupError):
        BackupReader(backup)


def test_symlinks_inside_the_part_are_kept(tmp_path: Path):
    backup = tmp_path / "ok.tar"
    entries = [
        member("config/sub", tarfile.DIRTYPE),
        member("config/sub/file", data=b"content"),
        member("config/l", tarfile.SYMTYPE, linkname="sub/file"),
        member("config/sub/up", tarfile.SYMTYPE, linkname="../sub"),
    ]
    crafted_backup(backup, "app", inner_tar(entries))
    staging = tmp_path / "staging"
    staging.mkdir()
    with BackupReader(backup) as reader:
        reader.extract(reader.manifest.parts[0], None, staging, TOPS)
    assert (staging / "config" / "l").read_bytes() == b"content"
    assert os.readlink(staging / "config" / "sub" / "up") == "../sub"
