"""A development device's RAUC for tests: the real `rauc service` on a private D-Bus.

`RaucDevice(directory)` wraps `devdevice/rauc-up` and `devdevice/rauc-down`: slots are ext4
image files, the bootloader is `rauc/dev-bootloader.sh` keeping its state in files, and bundles
are real, `format=plain` (the host kernel has no device-mapper), signed by a test CA made on
the spot. Every call is bounded by a timeout; failures raise `RaucEnvError` with the tail of
RAUC's log. Needs root and Debian's `rauc`, `squashfs-tools`, `dbus`, `e2fsprogs`, `openssl`.

    device = RaucDevice(tmp_path / "rauc").up()
    bundle = device.make_bundle("1.1")
    device.rauc("install", str(bundle))
    assert device.bootloader_state()["primary"] == "B"
    device.restart_service("B")  # play the reboot into the new slot
    device.down()
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from tests.processes import is_alive, run_command, wait_for
from tests.rauc_bundles import COMPATIBLE, Bundle, build_bundle

REPO = Path(__file__).resolve().parent.parent
RAUC_UP = REPO / "devdevice" / "rauc-up"
RAUC_DOWN = REPO / "devdevice" / "rauc-down"

BUS_NAME = "de.pengutronix.rauc"
OBJECT_PATH = "/"
INTERFACE = "de.pengutronix.rauc.Installer"
SLOTS = ("A", "B")
DEFAULT_TIMEOUT = 30.0


def rauc_available() -> bool:
    """Whether the `rauc` command is installed (the tests skip without it)."""
    return shutil.which("rauc") is not None


class RaucEnvError(RuntimeError):
    """A step of the RAUC test environment failed or timed out."""


class RaucDevice:
    """The development device's RAUC under one directory (see devdevice/rauc-up)."""

    def __init__(self, directory: str | os.PathLike[str], *, timeout: float = DEFAULT_TIMEOUT):
        self.dir = Path(directory).resolve()
        self.timeout = timeout

    # --- where things are ---
    @property
    def bus_address(self) -> str:
        """The private bus's address, for DBUS_SYSTEM_BUS_ADDRESS."""
        try:
            return (self.dir / "bus-address").read_text().strip()
        except FileNotFoundError:
            raise RaucEnvError(f"no bus under {self.dir}: call up() first") from None

    @property
    def system_conf(self) -> Path:
        return self.dir / "system.conf"

    @property
    def pki_dir(self) -> Path:
        """The trusted CA (`ca.cert.pem`, the keyring) and the signing key."""
        return self.dir / "pki"

    @property
    def other_pki_dir(self) -> Path:
        """A second CA the device does not trust, for wrongly signed bundles."""
        return self.dir / "pki-other"

    @property
    def log_path(self) -> Path:
        return self.dir / "rauc.log"

    def slot_image(self, bootname: str) -> Path:
        """The image file backing slot `bootname` (A or B)."""
        if bootname not in SLOTS:
            raise ValueError(f"bootname must be one of {SLOTS}, not {bootname!r}")
        return self.dir / "slots" / f"{bootname}.ext4"

    def env(self, **extra: str) -> dict[str, str]:
        """The environment for clients of this device's RAUC: the bus address set."""
        return {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": self.bus_address, **extra}

    # --- lifecycle ---
    def up(self, boot_slot: str | None = None) -> RaucDevice:
        """Create what is missing and start the bus and the service (booted: `boot_slot`, else
        what the dev bootloader would boot). Returns once RAUC owns its name on the bus."""
        self._script(RAUC_UP, boot_slot=boot_slot)
        return self

    def restart_service(self, boot_slot: str | None = None) -> None:
        """Play a reboot: restart `rauc service` (the bus stays) booted from `boot_slot`, else
        from the slot the dev bootloader chooses (its primary if good, else the other)."""
        self._script(RAUC_UP, "--reboot", boot_slot=boot_slot)

    def down(self) -> None:
        """Stop the service and the bus; slots, PKI and bootloader state are kept."""
        self._script(RAUC_DOWN)

    def kill_service(self) -> None:
        """SIGKILL `rauc service` (the bus stays) and wait until its bus name is gone."""
        pid = self.service_pid()
        if pid is None:
            raise RaucEnvError("rauc service is not running")
        os.kill(pid, signal.SIGKILL)
        self._wait(lambda: not is_alive(pid), f"rauc service (pid {pid}) to die")
        self._wait(lambda: not self.name_has_owner(), f"{BUS_NAME} to leave the bus")

    def service_pid(self) -> int | None:
        """The pid of the running `rauc service`, or None."""
        try:
            pid = int((self.dir / "rauc.pid").read_text())
        except (FileNotFoundError, ValueError):
            return None
        return pid if is_alive(pid) else None

    def name_has_owner(self) -> bool:
        """Whether de.pengutronix.rauc is on the bus now."""
        reply = self._run(
            [
                "dbus-send",
                f"--bus={self.bus_address}",
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.NameHasOwner",
                f"string:{BUS_NAME}",
            ],
            what="NameHasOwner",
        )
        return "boolean true" in reply.stdout

    # --- state ---
    def bootloader_state(self) -> dict[str, Any]:
        """The dev bootloader's files: {"primary": "A", "states": {"A": "good", "B": "good"},
        "booted": "A"} (defaults as the script has them: primary A, states good)."""
        boot = self.dir / "boot"

        def read(name: str, default: str | None) -> str | None:
            try:
                return (boot / name).read_text().strip() or default
            except FileNotFoundError:
                return default

        return {
            "primary": read("primary", "A"),
            "states": {slot: read(f"state.{slot}", "good") for slot in SLOTS},
            "booted": read("booted", None),
        }

    def rauc(
        self, *args: str, check: bool = True, timeout: float | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run the `rauc` client against this device's service (`check`: raise on failure)."""
        return self._run(
            ["rauc", *args],
            what=f"rauc {' '.join(args)}",
            check=check,
            timeout=timeout,
            env=self.env(),
        )

    def status(self) -> dict[str, Any]:
        """`rauc status --detailed --output-format=json`, parsed."""
        result = self.rauc("status", "--detailed", "--output-format=json")
        return json.loads(result.stdout)  # type: ignore[no-any-return]

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of RAUC's and the bus's logs."""
        parts = []
        for log in (self.dir / "rauc.log", self.dir / "dbus.log"):
            if log.exists():
                tail = log.read_text(errors="replace").splitlines()[-lines:]
                parts.append(f"--- tail of {log}\n" + "\n".join(tail))
        return "\n".join(parts)

    # --- bundles ---
    def make_bundle(
        self,
        version: str,
        *,
        compatible: str = COMPATIBLE,
        signer: Literal["dev", "other"] = "dev",
        corrupt: bool = False,
        truncated: bool = False,
        unsigned: bool = False,
        out: str | os.PathLike[str] | None = None,
    ) -> Bundle:
        """Build a real `format=plain` bundle whose image is a 2 MiB ext4 file system holding
        /etc/homei-version = `version`.

        signer "other": signed by a CA the device does not trust (RAUC: "unable to get local
        issuer certificate"). corrupt: one byte of the payload flipped after signing (the CMS
        signature no longer matches). truncated: the file cut in half. unsigned: the signature
        and its size trailer removed, i.e. the bare squashfs `rauc bundle` signs (RAUC cannot
        build an unsigned bundle; it reads the trailer of zero padding: "Signature size is 0").
        """
        if signer not in ("dev", "other"):
            raise ValueError(f"signer must be 'dev' or 'other', not {signer!r}")
        return build_bundle(
            self._run,
            self.dir / "bundles",
            self.pki_dir if signer == "dev" else self.other_pki_dir,
            version,
            compatible=compatible,
            trusted=signer == "dev",
            corrupt=corrupt,
            truncated=truncated,
            unsigned=unsigned,
            out=out,
        )

    # --- helpers ---
    def _script(self, script: Path, *args: str, boot_slot: str | None = None) -> None:
        env = {k: v for k, v in os.environ.items() if k != "HOMEI_DEV_BOOT_SLOT"}
        env["HOMEI_DEV_TIMEOUT"] = str(int(self.timeout))
        if boot_slot is not None:
            if boot_slot not in SLOTS:
                raise ValueError(f"boot_slot must be one of {SLOTS}, not {boot_slot!r}")
            env["HOMEI_DEV_BOOT_SLOT"] = boot_slot
        self._run(
            [str(script), *args, str(self.dir)],
            what=script.name,
            timeout=self.timeout + 15,
            env=env,
        )

    def _run(
        self,
        command: list[str],
        *,
        what: str,
        check: bool = True,
        timeout: float | None = None,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        return run_command(
            command,
            what=what,
            timeout=timeout or self.timeout,
            error=RaucEnvError,
            log_tail=self.log_tail,
            check=check,
            env=env,
        )

    def _wait(self, condition: Callable[[], bool], what: str) -> None:
        wait_for(
            condition,
            self.timeout,
            lambda: RaucEnvError(f"waited {self.timeout}s for {what}\n{self.log_tail()}"),
        )

    def __enter__(self) -> RaucDevice:
        return self.up()

    def __exit__(self, *exc: object) -> None:
        self.down()
