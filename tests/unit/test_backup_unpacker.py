"""The inner tar reader: what `packer.py` writes (long and non-ASCII names through pax
headers) reads back byte for byte however the stream is cut into reads, and any other tar,
a wrong header checksum, an archive cut off or followed by data, is refused."""

from __future__ import annotations

import io
import os
import tarfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from homei.backup.archive import BackupReader
from homei.backup.extract import Extractor, HostileArchive
from homei.backup.manifest import BackupError
from homei.backup.packer import InnerTar
from homei.backup.unpacker import BUFFER, InnerTarReader
from tests.backup_files import crafted_backup, inner_tar, snapshot
from tests.unit.test_backup_archive import TOPS, member

LONG = "a-folder-whose-name-is-long-" * 6
SIZES = [0, 1, 511, 512, 513, BUFFER - 1, BUFFER, BUFFER + 1, 3 * BUFFER + 100]


@contextmanager
def trickled(data: bytes, piece: int) -> Iterator[io.FileIO]:
    """`data` through a pipe, written `piece` bytes at a time: reads end anywhere."""
    read_fd, write_fd = os.pipe()

    def feed() -> None:
        try:
            for start in range(0, len(data), piece):
                os.write(write_fd, data[start : start + piece])
        except BrokenPipeError:
            pass
        finally:
            os.close(write_fd)

    thread = threading.Thread(target=feed)
    thread.start()
    try:
        with open(read_fd, "rb", buffering=0) as source:
            yield source
    finally:
        thread.join()


def packed(root: Path) -> bytes:
    """`root` as `packer.py` writes a part's inner tar, at `config`."""
    out = io.BytesIO()
    inner = InnerTar(out, lambda n: None)
    inner.add("config", root)
    inner.close()
    return out.getvalue()


@pytest.fixture
def source(tmp_path: Path) -> Path:
    root = tmp_path / "source"
    (root / LONG / "sub").mkdir(parents=True)
    for size in SIZES:
        (root / LONG / f"file-{size}").write_bytes(os.urandom(size))
    (root / "grüße-ünïcode.txt").write_text("non-ASCII name\n")
    os.symlink(f"{LONG}/file-{BUFFER}", root / "link-with-a-long-target")
    os.link(root / LONG / "file-513", root / "hard-link")
    (root / LONG / "file-1").chmod(0o751)
    return root


@pytest.mark.parametrize("piece", [777, 512 * 1024 + 3])
def test_what_the_packer_writes_reads_back_at_any_read_size(
    tmp_path: Path, source: Path, piece: int
):
    data = packed(source)
    assert b"path=config/" + LONG.encode() in data  # long names did go through pax records
    staging = tmp_path / "staging"
    staging.mkdir()
    extractor = Extractor(staging, frozenset({"config"}), len(data))
    with trickled(data, piece) as stream:
        extractor.extract_all(InnerTarReader(stream))
    assert snapshot(staging / "config") == snapshot(source)
    assert (
        os.stat(staging / "config/hard-link").st_ino
        == os.stat(staging / "config" / LONG / "file-513").st_ino
    )
    assert (
        os.stat(staging / "config" / LONG / "file-1").st_mtime
        == os.stat(source / LONG / "file-1").st_mtime
    )  # sub-second, from the pax record
    assert extractor.files == len(SIZES) + 1  # the hard link is no file written


def restore(tmp_path: Path, tar_bytes: bytes, raw_size: int | None = None) -> Path:
    backup = tmp_path / "crafted.tar"
    crafted_backup(backup, "app", tar_bytes, raw_size)
    staging = tmp_path / "staging"
    staging.mkdir()
    with BackupReader(backup) as reader:
        reader.extract(reader.manifest.parts[0], None, staging, TOPS)
    return staging


def test_a_long_name_in_a_pax_header_is_restored(tmp_path: Path):
    name = f"config/{LONG}/{LONG}/file"
    staging = restore(tmp_path, inner_tar([member(name, data=b"long")]))
    assert (staging / name).read_bytes() == b"long"


@pytest.mark.parametrize(
    "name",
    [f"config/{LONG}/../../../homei-escape", "/tmp/homei-escapé"],
    ids=["dot-dot-in-long-name", "absolute-non-ascii"],
)
def test_a_hostile_name_in_a_pax_header_is_refused(tmp_path: Path, name: str):
    tar_bytes = inner_tar([member(name)])
    assert b" path=" in tar_bytes
    with pytest.raises(HostileArchive):
        restore(tmp_path, tar_bytes)
    assert not (tmp_path / "homei-escape").exists()
    assert not Path("/tmp/homei-escapé").exists()


def test_a_wrong_header_checksum_is_refused_before_anything_is_written(tmp_path: Path):
    tar_bytes = bytearray(inner_tar([member("config/a", data=b"hello")]))
    tar_bytes[100] ^= 0x01  # a mode digit: still a well-formed header
    with pytest.raises(BackupError, match="checksum") as raised:
        restore(tmp_path, bytes(tar_bytes))
    assert "damaged" in str(raised.value)
    assert list((tmp_path / "staging").iterdir()) == []


def test_a_wrong_checksum_in_a_later_header_is_refused(tmp_path: Path):
    tar_bytes = bytearray(inner_tar([member("config/a"), member("config/b")]))
    tar_bytes[2 * 512] ^= 0x01  # the second header's name
    with pytest.raises(BackupError, match="checksum"):
        restore(tmp_path, bytes(tar_bytes))


@pytest.mark.parametrize(
    "cut",
    [512 + 2000, 512 + 5120, 512 + 5120 + 100, 100],
    ids=["inside-data", "before-the-end-blocks", "inside-the-end-blocks", "inside-a-header"],
)
def test_a_tar_that_ends_early_is_refused(tmp_path: Path, cut: int):
    tar_bytes = inner_tar([member("config/a", data=os.urandom(5000))])
    with pytest.raises(BackupError, match="cut off"):
        restore(tmp_path, tar_bytes[:cut], raw_size=len(tar_bytes))


@pytest.mark.parametrize("extra", [b"x", b"\0" * 2 * BUFFER], ids=["data", "endless-zeros"])
def test_data_after_the_end_of_the_archive_is_refused(tmp_path: Path, extra: bytes):
    tar_bytes = inner_tar([member("config/a")])
    (tmp_path / "plain").mkdir()
    assert restore(tmp_path / "plain", tar_bytes).joinpath("config/a").read_bytes() == b"x"
    with pytest.raises(BackupError, match="follows the end"):
        restore(tmp_path, tar_bytes + extra)


def gnu_tar(name: str) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as archive:
        info, data = member(name)
        archive.addfile(info, io.BytesIO(data or b""))
    return raw.getvalue()


def pax_record(key: str, value: str) -> bytes:
    info, data = member("config/a")
    info.pax_headers = {key: value}
    return inner_tar([(info, data)])


@pytest.mark.parametrize(
    "tar_bytes",
    [
        pytest.param(gnu_tar("config/a"), id="gnu-header"),
        pytest.param(gnu_tar(f"config/{LONG}"), id="gnu-long-name"),
        pytest.param(pax_record("GNU.sparse.map", "0,1"), id="pax-sparse"),
        pytest.param(pax_record("SCHILY.xattr.user.x", "1"), id="pax-xattr"),
        pytest.param(pax_record("size", "1e3"), id="pax-malformed-size"),
        pytest.param(pax_record("mtime", "nan"), id="pax-malformed-mtime"),
        pytest.param(
            inner_tar([member("config/l", tarfile.SYMTYPE, linkname="a", size=5)]),
            id="link-with-data",
        ),
    ],
)
def test_tar_forms_homei_never_writes_are_refused(tmp_path: Path, tar_bytes: bytes):
    with pytest.raises(BackupError, match="damaged"):
        restore(tmp_path, tar_bytes)
    assert list((tmp_path / "staging").iterdir()) == []
