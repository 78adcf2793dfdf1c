"""A test double of a Jetson's sysfs: thermal zones, an INA3221 on hwmon and the GPU's load,
written as files the way the kernel shows them (this machine has none of these sensors)."""

from __future__ import annotations

from pathlib import Path

ZONES = {"CPU-therm": 45500, "GPU-therm": 41250}
# Channel: (label, millivolts, milliamps)
RAILS = {1: ("VDD_IN", 5040, 1200), 2: ("VDD_CPU_GPU_CV", 5020, 400)}
GPU_LOAD_PER_MILLE = 345


def write_jetson_sysfs(root: Path) -> Path:
    """Write the tree under `root`; the root to give `monitor.sysfs_root`."""
    for index, (name, millidegrees) in enumerate(ZONES.items()):
        zone = root / "class" / "thermal" / f"thermal_zone{index}"
        zone.mkdir(parents=True)
        (zone / "type").write_text(f"{name}\n")
        (zone / "temp").write_text(f"{millidegrees}\n")
    hwmon = root / "class" / "hwmon" / "hwmon3"
    hwmon.mkdir(parents=True)
    (hwmon / "name").write_text("ina3221\n")
    for channel, (label, millivolts, milliamps) in RAILS.items():
        (hwmon / f"in{channel}_label").write_text(f"{label}\n")
        (hwmon / f"in{channel}_input").write_text(f"{millivolts}\n")
        (hwmon / f"curr{channel}_input").write_text(f"{milliamps}\n")
    # A channel without its current file is no rail.
    (hwmon / "in3_label").write_text("VDD_SOC\n")
    (hwmon / "in3_input").write_text("5000\n")
    # Another hwmon chip is not read.
    other = root / "class" / "hwmon" / "hwmon0"
    other.mkdir(parents=True)
    (other / "name").write_text("nvme\n")
    gpu = root / "devices" / "platform" / "gpu.0"
    gpu.mkdir(parents=True)
    (gpu / "load").write_text(f"{GPU_LOAD_PER_MILLE}\n")
    return root


def set_temperature(root: Path, zone: int, millidegrees: int) -> None:
    """Change a zone's reading, as the kernel would."""
    (root / "class" / "thermal" / f"thermal_zone{zone}" / "temp").write_text(f"{millidegrees}\n")
