"""One reading of the device from /proc and /sys: counters and levels as the kernel shows them.

Blocking: `DeviceReader.read` runs on a worker thread. Every file is read once per reading;
sensors that are absent (no thermal zone, no INA3221, no GPU load) are simply left out.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import msgspec

# Filesystems that hold no data of their own, besides those /proc/filesystems marks `nodev`.
_READ_ONLY_IMAGES = frozenset({"squashfs", "erofs", "iso9660"})
# Where Docker and the kernel mount what is theirs, not the device's data.
_FOREIGN_MOUNTS = ("/var/lib/docker/", "/proc/", "/sys/", "/dev/", "/run/")
# GPU load files (per mille) on Jetson boards, relative to the sysfs root.
_GPU_LOAD_FILES = (
    "devices/gpu.0/load",
    "devices/platform/gpu.0/load",
    "devices/platform/17000000.gpu/load",
    "devices/platform/bus@0/17000000.gpu/load",
)


class Filesystem(msgspec.Struct, frozen=True):
    mountpoint: str
    device: str
    fstype: str
    total: int
    free: int
    available: int
    files: int
    files_free: int


class Interface(msgspec.Struct, frozen=True):
    device: str
    rx_bytes: int
    tx_bytes: int


class Rail(msgspec.Struct, frozen=True):
    """One INA3221 channel: bus voltage, current and their product."""

    name: str
    volts: float
    amps: float

    @property
    def watts(self) -> float:
        return self.volts * self.amps


class Reading(msgspec.Struct, frozen=True):
    """What the kernel showed at `ts`: counters (CPU times, bytes) and levels."""

    ts: float
    # Per CPU ("cpu0", ...) the seconds spent per mode, in /proc/stat's order.
    cpu_times: dict[str, tuple[float, ...]]
    load: tuple[float, float, float]
    memory: dict[str, int]  # /proc/meminfo, in bytes
    filesystems: tuple[Filesystem, ...]
    interfaces: tuple[Interface, ...]
    temperatures: dict[str, float]  # zone name -> degrees Celsius
    rails: tuple[Rail, ...]
    gpu_load: float | None  # percent
    uptime: float


CPU_MODES = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except (OSError, ValueError):
        return None


def _number(path: Path) -> float | None:
    text = _read(path)
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


class DeviceReader:
    """Reads /proc (`proc_root`) and /sys (`sysfs_root`); sensors are found once, at creation."""

    def __init__(self, proc_root: Path = Path("/proc"), sysfs_root: Path = Path("/sys")) -> None:
        self._proc = proc_root
        self._sys = sysfs_root
        self._tick = float(os.sysconf("SC_CLK_TCK"))
        text = _read(proc_root / "filesystems") or ""
        self._disk_types = (
            frozenset(
                line.split()[-1]
                for line in text.splitlines()
                if line and not line.startswith("nodev")
            )
            - _READ_ONLY_IMAGES
        )
        self._zones = self._find_zones()
        self._rails = self._find_rails()
        found = (sysfs_root / p for p in _GPU_LOAD_FILES if (sysfs_root / p).exists())
        self._gpu = next(found, None)

    def _find_zones(self) -> list[tuple[str, Path]]:
        zones = []
        for zone in sorted((self._sys / "class" / "thermal").glob("thermal_zone*")):
            name = (_read(zone / "type") or zone.name).strip()
            if (zone / "temp").exists():
                zones.append((name, zone / "temp"))
        return zones

    def _find_rails(self) -> list[tuple[str, Path, Path]]:
        rails = []
        for hwmon in sorted((self._sys / "class" / "hwmon").glob("hwmon*")):
            if not (_read(hwmon / "name") or "").strip().startswith("ina3221"):
                continue
            for label in sorted(hwmon.glob("in*_label")):
                channel = label.name[2 : -len("_label")]
                volts, amps = hwmon / f"in{channel}_input", hwmon / f"curr{channel}_input"
                name = (_read(label) or "").strip()
                if name and volts.exists() and amps.exists():
                    rails.append((name, volts, amps))
        return rails

    def read(self, now: float) -> Reading:
        """One reading of every figure (blocking)."""
        return Reading(
            now,
            self._cpu_times(),
            self._load(),
            self._memory(),
            self._filesystems(),
            self._interfaces(),
            self._temperatures(),
            self._read_rails(),
            None if self._gpu is None or (load := _number(self._gpu)) is None else load / 10,
            float((_read(self._proc / "uptime") or "0").split()[0]),
        )

    def _temperatures(self) -> dict[str, float]:
        celsius = {}
        for name, path in self._zones:
            millidegrees = _number(path)
            if millidegrees is not None:
                celsius[name] = millidegrees / 1000
        return celsius

    def _cpu_times(self) -> dict[str, tuple[float, ...]]:
        times = {}
        for line in (_read(self._proc / "stat") or "").splitlines():
            if line.startswith("cpu") and line[3:4].isdigit():
                name, *fields = line.split()
                times[name] = tuple(int(v) / self._tick for v in fields[: len(CPU_MODES)])
        return times

    def _load(self) -> tuple[float, float, float]:
        fields = (_read(self._proc / "loadavg") or "0 0 0").split()
        return float(fields[0]), float(fields[1]), float(fields[2])

    def _memory(self) -> dict[str, int]:
        memory = {}
        for line in (_read(self._proc / "meminfo") or "").splitlines():
            key, _, rest = line.partition(":")
            value = rest.split()
            if value:
                memory[key] = int(value[0]) * (1024 if len(value) > 1 else 1)
        return memory

    def _filesystems(self) -> tuple[Filesystem, ...]:
        seen: dict[str, Filesystem] = {}
        for line in (_read(self._proc / "self" / "mounts") or "").splitlines():
            device, mountpoint, fstype = line.split()[:3]
            mountpoint = mountpoint.replace("\\040", " ")
            if fstype not in self._disk_types or f"{mountpoint}/".startswith(_FOREIGN_MOUNTS):
                continue
            # A device mounted twice (bind mounts) is counted once, at its shortest path.
            if device in seen and len(seen[device].mountpoint) <= len(mountpoint):
                continue
            with contextlib.suppress(OSError):
                st = os.statvfs(mountpoint)
                seen[device] = Filesystem(
                    mountpoint,
                    device,
                    fstype,
                    st.f_blocks * st.f_frsize,
                    st.f_bfree * st.f_frsize,
                    st.f_bavail * st.f_frsize,
                    st.f_files,
                    st.f_ffree,
                )
        return tuple(sorted(seen.values(), key=lambda f: f.mountpoint))

    def _interfaces(self) -> tuple[Interface, ...]:
        interfaces = []
        for line in (_read(self._proc / "net" / "dev") or "").splitlines()[2:]:
            name, _, rest = line.partition(":")
            fields = rest.split()
            if len(fields) >= 9:
                interfaces.append(Interface(name.strip(), int(fields[0]), int(fields[8])))
        return tuple(interfaces)

    def _read_rails(self) -> tuple[Rail, ...]:
        rails = []
        for name, volts, amps in self._rails:
            millivolts, milliamps = _number(volts), _number(amps)
            if millivolts is not None and milliamps is not None:
                rails.append(Rail(name, millivolts / 1000, milliamps / 1000))
        return tuple(rails)
