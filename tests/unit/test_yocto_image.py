"""What the Yocto image is made of: the systemd units, RAUC's configuration and bundle, and
the disk layout of the QEMU machines, all taken from the project's own folders."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import yaml

from tests.conftest import ROOT
from tests.unit.yocto_layer import (
    BUNDLE,
    DISTRO_CONF,
    LAYER,
    QEMU_MACHINES,
    RAUC_CONF_APPEND,
    WIC,
    YOCTO,
    assignments,
    bitbake_files,
    homei_recipe,
    inherits,
    kas_files,
    option,
    setting,
    system_conf,
    values,
    wks_parts,
)


def test_units_of_systemd_folder_are_installed_and_enabled():
    recipe = homei_recipe()
    text = recipe.read_text()
    units = sorted(
        p.name
        for p in (ROOT / "systemd").iterdir()
        if p.suffix in {".service", ".socket", ".timer", ".path", ".target", ".mount"}
    )
    assert units
    services = set(values(recipe, "SYSTEMD_SERVICE:${PN}"))
    for unit in units:
        installed = f"install -m 0644 ${{S}}/systemd/{unit} ${{D}}${{systemd_system_unitdir}}"
        assert installed in text, unit
        assert unit in services, f"{unit} is not in SYSTEMD_SERVICE"
    assert services <= set(units)
    assert setting(recipe, "SYSTEMD_AUTO_ENABLE:${PN}") == "enable"
    assert {"python_setuptools_build_meta", "systemd"} <= inherits(recipe)


def test_rauc_configuration_comes_from_the_rauc_folder():
    append = RAUC_CONF_APPEND.read_text()
    assert 'FILESEXTRAPATHS:prepend:homei := "${HOMEI_TOPDIR}/rauc:' in append
    assert "file://${HOMEI_RAUC_SYSTEM_CONF}" in append
    machines = {
        "qemux86-64": "",
        "qemuarm64": ":qemuarm64",
        "jetson-orin-nano-devkit": ":jetson-orin-nano-devkit",
    }
    for machine, override in machines.items():

        def pick(name: str, override: str = override) -> str:
            found = [v for n, _, v in assignments(DISTRO_CONF) if n in (name, name + override)]
            return found[-1]

        conf = system_conf(pick("HOMEI_RAUC_SYSTEM_CONF"))
        compatible = pick("HOMEI_RAUC_COMPATIBLE")
        if pick("HOMEI_RAUC_BOOTLOADER"):
            assert machine == "qemuarm64" and pick("HOMEI_RAUC_BOOTLOADER") == "uboot"
        else:
            assert conf["system"]["compatible"] == compatible, machine
        assert conf["system"]["data-directory"].startswith("/data/"), machine
        assert "-plain" in conf["system"]["bundle-formats"], machine
        assert {s.split(".")[1] for s in conf.sections() if s.startswith("slot.")} == {"rootfs"}
    orin = system_conf("system.conf.jetson-orin-nano")
    backend = orin["handlers"]["bootloader-custom-backend"]
    assert (
        backend == "/usr/lib/rauc/nvbootctrl-backend.sh"
        and (ROOT / "rauc" / Path(backend).name).is_file()
    )
    assert "${nonarch_libdir}/rauc/nvbootctrl-backend.sh" in append
    assert "file://nvbootctrl-backend.sh" in append


def test_bundle_is_verity_of_the_image_with_keys_from_variables():
    assert "bundle" in inherits(BUNDLE)
    assert setting(BUNDLE, "RAUC_BUNDLE_FORMAT") == "verity"
    assert setting(BUNDLE, "RAUC_BUNDLE_COMPATIBLE") == "${HOMEI_RAUC_COMPATIBLE}"
    assert setting(BUNDLE, "RAUC_BUNDLE_SLOTS") == "rootfs"
    assert setting(BUNDLE, "RAUC_SLOT_rootfs") == "homei-image"
    image = LAYER / "recipes-core" / "images" / "homei-image.bb"
    assert {"docker-moby", "homei", "homei-data", "rauc", "systemd-conf"} <= set(
        values(image, "IMAGE_INSTALL")
    )
    assert "rauc" in setting(DISTRO_CONF, "DISTRO_FEATURES:append").split()
    assert setting(DISTRO_CONF, "INIT_MANAGER") == "systemd"


def test_qemu_disk_layout_is_the_one_rauc_system_conf_names():
    conf = system_conf("system.conf.qemu")
    slots = {
        conf[s]["bootname"]: conf[s]["device"]
        for s in conf.sections()
        if s.startswith("slot.rootfs.")
    }
    assert slots == {"A": "/dev/vda2", "B": "/dev/vda3"}
    data_label = setting(DISTRO_CONF, "HOMEI_DATA_DEVICE").removeprefix("LABEL=")
    for machine in QEMU_MACHINES:
        boot, slot_a, slot_b, data = wks_parts(f"homei-{machine}.wks")
        assert (
            slot_a[0] == "/"
            and option(slot_a, "--source") == option(slot_b, "--source") == "rootfs"
        )
        assert all(option(p, "--ondisk") == "vda" for p in (boot, slot_a, slot_b, data))
        assert option(data, "--source") is None and option(data, "--label") == data_label
        assert option(boot, "--label") == setting(
            DISTRO_CONF, f"HOMEI_BOOT_DEVICE:{machine}"
        ).removeprefix("LABEL=")
    # GRUB (x86-64) and U-Boot (arm64) hand the kernel the slot's partition and bootname.
    grub = (WIC / "homei-grub.cfg").read_text()
    for bootname, device in slots.items():
        assert re.search(rf"root={device} .*rauc\.slot={bootname}$", grub, re.M), bootname
    script = (LAYER / "recipes-bsp" / "homei-boot" / "files" / "boot.cmd").read_text()
    assert "setenv rauc_part 2" in script and "setenv rauc_part 3" in script
    assert "root=/dev/vda${rauc_part}" in script
    # RAUC's grub backend writes the environment that the EFI partition carries.
    grubenv = Path(conf["system"]["grubenv"])
    mountpoint = Path(setting(DISTRO_CONF, "HOMEI_BOOT_MOUNTPOINT:qemux86-64"))
    image = LAYER / "recipes-core" / "images" / "homei-image.bb"
    source, _, destination = setting(image, "IMAGE_EFI_BOOT_FILES:qemux86-64").partition(";")
    assert grubenv == mountpoint / destination and source == "homei-grubenv"
    fw_env = (LAYER / "recipes-bsp" / "u-boot" / "files" / "fw_env.config").read_text().split("\n")
    env_file = next(line.split()[0] for line in fw_env if line and not line.startswith("#"))
    assert (
        Path(env_file)
        == Path(setting(DISTRO_CONF, "HOMEI_BOOT_MOUNTPOINT:qemuarm64")) / "uboot.env"
    )


def test_no_copies_of_systemd_or_rauc_files_and_no_keys_in_yocto():
    def digest(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest()

    originals = [
        p for folder in ("systemd", "rauc") for p in (ROOT / folder).rglob("*") if p.is_file()
    ]
    layer_files = [p for p in YOCTO.rglob("*") if p.is_file()]
    copies = {digest(p) for p in originals} & {digest(p) for p in layer_files}
    assert not copies
    assert not {p.name for p in originals} & {p.name for p in layer_files}
    keys = [p for p in layer_files if p.suffix in {".pem", ".key", ".crt", ".der", ".p12", ".pfx"}]
    assert not keys
    for path in [*bitbake_files(), DISTRO_CONF]:
        for name in ("RAUC_KEY_FILE", "RAUC_CERT_FILE", "RAUC_KEYRING_FILE"):
            assert not [a for a in assignments(path) if a[0].split(":")[0] == name], (
                f"{path.name} sets {name}"
            )
    for path in kas_files():
        env = yaml.safe_load(path.read_text()).get("env") or {}
        assert all(
            env.get(k) is None for k in ("RAUC_KEY_FILE", "RAUC_CERT_FILE", "RAUC_KEYRING_FILE")
        )
