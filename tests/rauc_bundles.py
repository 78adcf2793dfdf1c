"""Real RAUC bundles for tests: `format=plain`, signed by a test CA made on the spot, and
deliberately broken ones (untrusted signer, a flipped byte, cut short, unsigned)."""

from __future__ import annotations

import os
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

REPO = Path(__file__).resolve().parent.parent
DEV_PKI = REPO / "rauc" / "dev-pki.sh"
BUILD_BUNDLE = REPO / "rauc" / "build-bundle.sh"
COMPATIBLE = "homei-dev"


class Run(Protocol):
    """How the device runs a helper command: bounded in time, raising with its logs."""

    def __call__(self, command: list[str], *, what: str) -> subprocess.CompletedProcess[str]: ...


@dataclass(frozen=True)
class Bundle:
    """A bundle made by `RaucDevice.make_bundle`; usable wherever a path is (os.fspath)."""

    path: Path
    image: Path  # the root filesystem image inside, as written into a slot
    version: str
    compatible: str

    def __fspath__(self) -> str:
        return str(self.path)

    def __str__(self) -> str:
        return str(self.path)


def build_bundle(
    run: Run,
    bundles: Path,
    pki: Path,
    version: str,
    *,
    compatible: str = COMPATIBLE,
    trusted: bool = True,
    corrupt: bool = False,
    truncated: bool = False,
    unsigned: bool = False,
    out: str | os.PathLike[str] | None = None,
) -> Bundle:
    """Build a bundle under `bundles`, signed with the CA in `pki` (made if missing); see
    `RaucDevice.make_bundle` for what the flags break."""
    flags = {
        "other-ca": not trusted,
        "corrupt": corrupt,
        "truncated": truncated,
        "unsigned": unsigned,
    }
    name = "-".join([compatible, version, *(flag for flag, on in flags.items() if on)])
    bundles.mkdir(parents=True, exist_ok=True)
    path = Path(out) if out is not None else bundles / f"{name}.raucb"
    image = bundles / f"{name}.ext4"

    organisation = "Homei Development" if trusted else "Homei Untrusted"
    run([str(DEV_PKI), str(pki), organisation], what="dev-pki.sh")
    with tempfile.TemporaryDirectory(dir=bundles) as root:
        (Path(root) / "etc").mkdir()
        (Path(root) / "etc" / "homei-version").write_text(version + "\n")
        image.unlink(missing_ok=True)
        run(
            ["mkfs.ext4", "-q", "-F", "-L", "rootfs", "-d", root, str(image), "2M"],
            what="mkfs.ext4",
        )
    run(
        [
            str(BUILD_BUNDLE),
            "--image",
            str(image),
            "--compatible",
            compatible,
            "--version",
            version,
            "--cert",
            str(pki / "signing.cert.pem"),
            "--key",
            str(pki / "signing.key.pem"),
            "--output",
            str(path),
            "--format",
            "plain",
        ],
        what="build-bundle.sh",
    )

    data = path.read_bytes()
    # A bundle is: squashfs, CMS signature, signature size (big-endian u64).
    (signature_size,) = struct.unpack(">Q", data[-8:])
    payload_size = len(data) - 8 - signature_size
    if corrupt:
        flipped = bytearray(data)
        flipped[payload_size // 2] ^= 0xFF
        data = bytes(flipped)
    if unsigned:
        data = data[:payload_size]
    if truncated:
        data = data[: len(data) // 2]
    path.write_bytes(data)
    return Bundle(path=path, image=image, version=version, compatible=compatible)
