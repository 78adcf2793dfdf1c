"""The Yocto layer (yocto/), which cannot be built here: lint-clean recipes, kas files that
kas's own schema accepts, and recipes that follow the project they package."""

from __future__ import annotations

import configparser
import hashlib
import importlib.resources
import json
import re
import subprocess
import tomllib
from functools import cache
from pathlib import Path

import jsonschema
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.conftest import ROOT, VENV_BIN

YOCTO = ROOT / "yocto"
LAYER = YOCTO / "meta-homei"
KAS = YOCTO / "kas"
HOMEI_RECIPES = LAYER / "recipes-homei" / "homei"
PYTHON_RECIPES = LAYER / "recipes-devtools" / "python"
DISTRO_CONF = LAYER / "conf" / "distro" / "homei.conf"
RAUC_CONF_APPEND = LAYER / "recipes-core" / "rauc" / "rauc-conf.bbappend"
BUNDLE = LAYER / "recipes-core" / "bundles" / "homei-bundle.bb"
WIC = LAYER / "wic"
QEMU_MACHINES = ("qemux86-64", "qemuarm64")

# Recipes that the layers meta-homei builds on provide on scarthgap, with their versions
# there (poky 1d54d1c4, meta-openembedded bec75506: the commits yocto/kas pins).
KNOWN_RECIPES: dict[str, tuple[str, str]] = {
    "python3-aiohttp": ("meta-python", "3.9.5"),
    "python3-dbus-fast": ("meta-python", "2.21.1"),
    "python3-pyjwt": ("meta-python", "2.8.0"),
    "python3-systemd": ("meta-python", "235"),
    "python3-psutil": ("oe-core", "5.9.8"),
    "python3-cryptography": ("oe-core", "42.0.5"),
    "python3-typing-extensions": ("oe-core", "4.10.0"),
}
# PyPI names whose recipe is not python3-<name>.
RECIPE_NAMES = {"systemd-python": "python3-systemd"}
# The packages oe-core's python3 recipe splits the standard library into (python3-manifest.json).
_STDLIB_PARTS = """
    2to3 asyncio audio cgitb codecs compile compression core crypt ctypes curses datetime db
    debugger dev difflib doctest email ensurepip fcntl gdbm html idle image io json logging
    mailbox math mime misc mmap modules multiprocessing netclient netserver numbers pickle
    pkgutil plistlib pprint profile pydoc resource shell sqlite3 statistics stringold syslog
    terminal tests threading tkinter tomllib turtle unittest unixadmin venv xml xmlrpc zipapp
    zoneinfo
"""
STDLIB = {f"python3-{part}" for part in _STDLIB_PARTS.split()}
# DESIGN.md: dependencies that meta-python and oe-core lack, so meta-homei has their recipes.
LAYER_PYTHON = {
    "python3-aiodocker",
    "python3-aiosqlite",
    "python3-msgspec",
    "python3-prometheus-client",
    "python3-zstandard",
}
# setuptools of oe-core scarthgap, which builds the homei package.
SCARTHGAP_SETUPTOOLS = Version("69.1.1")

# oelint-adv findings that do not apply, by rule: the recipe files and the reason.
_OWN = {"homei-data_1.0.bb", "homei-boot-grub_1.0.bb", "homei-boot-uboot_1.0.bb"}
_HOMEI = "<the homei recipe>"
_PYPI = "<every recipe that inherits pypi>"
NOT_APPLICABLE: dict[str, tuple[frozenset[str], str]] = {
    "oelint.var.mandatoryvar.HOMEPAGE": (
        frozenset({_HOMEI, "homei-bundle.bb", *_OWN}),
        "Homei has no public home page, and the other recipes' sources are the layer itself",
    ),
    "oelint.var.suggestedvar.BUGTRACKER": (
        frozenset({_HOMEI, "homei-bundle.bb", "homei-image.bb", *_OWN}),
        "no public bug tracker: Homei's and the layer's issues are the project's own",
    ),
    "oelint.var.suggestedvar.CVE_PRODUCT": (
        frozenset({_PYPI, "homei-bundle.bb", "homei-image.bb", *_OWN}),
        "recipes that inherit pypi get CVE_PRODUCT ?= python:<name> from pypi.bbclass; the "
        "layer's own recipes, image and bundle are no product of any CVE database",
    ),
    "oelint.var.licenseremotefile": (
        frozenset({_HOMEI, *_OWN}),
        "Homei ships no licence file (pyproject.toml says Apache-2.0) and the layer's own "
        "recipes have no sources with one: they point at oe-core's copy of the licence",
    ),
    "oelint.var.bbclassextend": (
        frozenset({_HOMEI, "homei-bundle.bb", *_OWN}),
        "a device daemon, its data layout, boot files and a bundle: nothing for native or SDK",
    ),
    "oelint.var.mandatoryvar.SRC_URI": (
        frozenset({"homei-boot-grub_1.0.bb", "homei-bundle.bb"}),
        "the GRUB environment is generated in do_compile; a bundle has images, not sources",
    ),
    "oelint.var.suggestedvar.SECTION": (
        frozenset({"homei-bundle.bb", "homei-image.bb"}),
        "an image and a bundle make no package to file under a section",
    ),
    "oelint.file.underscores": (
        frozenset({"homei-bundle.bb"}),
        "named like meta-rauc's core-bundle-minimal.bb; the bundle's version is DISTRO_VERSION",
    ),
}
# Needs the network (it fetches each HOMEPAGE), which this machine does not have.
SUPPRESSED = ("oelint.vars.homepageping",)
FINDING = re.compile(r"^(?P<path>/[^:]+):(?P<line>\d+):(?P<severity>\w+):(?P<rule>[\w.]+):")
ASSIGNMENT = re.compile(
    r'^(?P<name>[A-Za-z0-9_${}:.\-/\[\]]+)\s*(?P<op>\?\?=|\?=|:=|\+=|=\+|\.=|=\.|=)\s*"(?P<value>.*)"\s*$'
)


def bitbake_files() -> list[Path]:
    """Every recipe, append and class of the layer."""
    return sorted(p for p in LAYER.rglob("*") if p.suffix in {".bb", ".bbappend", ".bbclass"})


@cache
def assignments(path: Path) -> tuple[tuple[str, str, str], ...]:
    """(name, operator, value) of each top-level assignment, continuation lines joined."""
    text = re.sub(r"\\\n", " ", path.read_text())
    found = (ASSIGNMENT.match(line) for line in text.splitlines())
    return tuple((m["name"], m["op"], " ".join(m["value"].split())) for m in found if m)


def values(path: Path, name: str) -> list[str]:
    """The words assigned to `name` in `path`, all assignments together."""
    return [word for var, _, value in assignments(path) if var == name for word in value.split()]


def inherits(path: Path) -> set[str]:
    """The classes `path` inherits."""
    lines = path.read_text().splitlines()
    return {c for line in lines if line.startswith("inherit ") for c in line.split()[1:]}


def setting(path: Path, name: str) -> str:
    """The last value assigned to `name` in `path`."""
    matches = [value for var, _, value in assignments(path) if var == name]
    assert matches, f"{path.name} sets no {name}"
    return matches[-1]


@cache
def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def homei_recipe() -> Path:
    recipes = sorted(HOMEI_RECIPES.glob("homei_*.bb"))
    assert len(recipes) == 1, recipes
    return recipes[0]


def layer_python_recipes() -> dict[str, tuple[str, Path]]:
    """meta-homei's Python recipes: name -> (version, file)."""
    found = {}
    for path in PYTHON_RECIPES.glob("*.bb"):
        name, _, version = path.stem.partition("_")
        found[name] = (version, path)
    return found


def recipe_for(requirement: Requirement) -> str:
    name = canonicalize_name(requirement.name)
    return RECIPE_NAMES.get(name, f"python3-{name}")


def provided_version(recipe: str) -> Version | None:
    """The version bitbake builds of `recipe`: the newest that the layers have."""
    versions = (
        [Version(layer_python_recipes()[recipe][0])] if recipe in layer_python_recipes() else []
    )
    if recipe in KNOWN_RECIPES:
        versions.append(Version(KNOWN_RECIPES[recipe][1]))
    return max(versions, default=None)


def system_conf(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string((ROOT / "rauc" / name).read_text())
    return parser


def wks_parts(name: str) -> list[list[str]]:
    lines = (WIC / name).read_text().splitlines()
    return [line.split()[1:] for line in lines if line.startswith("part ")]


def option(part: list[str], flag: str) -> str | None:
    return part[part.index(flag) + 1] if flag in part else None


# (1) oelint-adv


def test_oelint_finds_nothing_unexplained():
    files = bitbake_files()
    assert homei_recipe() in files and RAUC_CONF_APPEND in files
    result = subprocess.run(
        [
            str(VENV_BIN / "oelint-adv"),
            "--release=scarthgap",
            "--quiet",
            *(f"--suppress={rule}" for rule in SUPPRESSED),
            *map(str, files),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    findings = {
        (Path(m["path"]).name, m["rule"])
        for m in map(FINDING.match, output.splitlines())
        if m is not None
    }
    assert result.returncode in (0, 1) and "Traceback" not in output, output
    assert result.returncode == 0 or findings, output

    placeholders = {
        _HOMEI: {homei_recipe().name},
        _PYPI: {p.name for p in files if "pypi" in inherits(p)},
    }
    justified = {
        (name, rule)
        for rule, (where, _reason) in NOT_APPLICABLE.items()
        for entry in where
        for name in placeholders.get(entry, {entry})
    }
    unexplained = sorted(findings - justified)
    assert not unexplained, "\n".join(
        line
        for line in output.splitlines()
        if any(f"{n}:" in line and r in line for n, r in unexplained)
    )
    stale = sorted(justified - findings)
    assert not stale, f"justified findings that oelint-adv no longer reports: {stale}"


# (2) kas files


def kas_files() -> list[Path]:
    files = sorted(KAS.glob("*.yml"))
    assert files
    return files


def test_kas_files_match_kas_schema():
    schema = json.loads(importlib.resources.files("kas").joinpath("schema-kas.json").read_text())
    validator = jsonschema.Draft7Validator(schema)
    for path in kas_files():
        errors = [
            f"{'/'.join(map(str, e.path))}: {e.message}"
            for e in validator.iter_errors(yaml.safe_load(path.read_text()))
        ]
        assert not errors, f"{path.name}: {errors}"


def test_kas_files_pin_scarthgap_commits_for_each_machine():
    machines = set()
    layers: dict[str, set[str]] = {}
    for path in kas_files():
        config = yaml.safe_load(path.read_text())
        assert config["header"]["version"] >= 14, path.name
        for include in config["header"].get("includes", []):
            assert (ROOT / include).is_file(), include
        machines.add(config.get("machine"))
        for name, repo in (config.get("repos") or {}).items():
            assert "refspec" not in repo, name
            if repo.get("url"):
                assert repo["branch"] == "scarthgap", name
                assert re.fullmatch(r"[0-9a-f]{40}", repo["commit"]), name
            layers.setdefault(name, set()).update(repo.get("layers") or {"."})
        if path.name != "common.yml":
            assert config["header"]["includes"] == ["yocto/kas/common.yml"], path.name
    assert machines - {None} == {"qemux86-64", "qemuarm64", "jetson-orin-nano-devkit-nvme"}
    common = yaml.safe_load((KAS / "common.yml").read_text())
    assert common["distro"] == "homei"
    assert {"homei-image", "homei-bundle"} <= set(common["target"])
    assert "url" not in common["repos"]["homei"]  # this checkout itself
    assert layers["homei"] == {"yocto/meta-homei"} and (ROOT / "yocto/meta-homei").is_dir()
    assert layers["poky"] >= {"meta", "meta-poky"}
    assert layers["meta-openembedded"] >= {
        "meta-oe",
        "meta-python",
        "meta-networking",
        "meta-filesystems",
    }
    assert {"meta-virtualization", "meta-rauc", "meta-tegra"} <= set(layers)


def test_layer_conf_declares_scarthgap_and_the_layers_the_kas_files_bring():
    conf = LAYER / "conf" / "layer.conf"
    assert setting(conf, "LAYERSERIES_COMPAT_homei") == "scarthgap"
    assert set(values(conf, "LAYERDEPENDS_homei")) == {
        "core",
        "openembedded-layer",
        "meta-python",
        "networking-layer",
        "filesystems-layer",
        "virtualization-layer",
        "rauc",
    }
    # HOMEI_TOPDIR is the layer's directory two levels up: this checkout.
    assert "os.path.join('${LAYERDIR}', '..', '..')" in setting(conf, "HOMEI_TOPDIR")
    assert (LAYER / ".." / "..").resolve() == ROOT


# (3) the recipes against the project


def test_every_runtime_dependency_is_an_rdepends_a_listed_layer_provides():
    requirements = [Requirement(text) for text in pyproject()["project"]["dependencies"]]
    rdepends = set(values(homei_recipe(), "RDEPENDS:${PN}"))
    wanted = {recipe_for(r) for r in requirements}
    for requirement in requirements:
        recipe = recipe_for(requirement)
        assert recipe in rdepends, (
            f"{requirement.name}: {recipe} is not in the homei recipe's RDEPENDS"
        )
        version = provided_version(recipe)
        assert version is not None, (
            f"{requirement.name}: {recipe} is neither in oe-core or meta-python scarthgap "
            f"(KNOWN_RECIPES) nor in {PYTHON_RECIPES.relative_to(ROOT)}: write its recipe"
        )
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{requirement}: scarthgap's {recipe} is {version}; meta-homei needs a newer recipe"
        )
    strays = sorted(rdepends - wanted - STDLIB)
    assert not strays, f"RDEPENDS that pyproject.toml does not name: {strays}"


def test_layer_python_recipes_are_complete():
    recipes = layer_python_recipes()
    assert set(recipes) >= LAYER_PYTHON
    for name, (version, path) in recipes.items():
        if name in KNOWN_RECIPES:
            assert Version(version) > Version(KNOWN_RECIPES[name][1]), f"{name} shadows its layer's"
        classes = inherits(path)
        assert "pypi" in classes, name
        assert classes & {
            "setuptools3",
            "python_setuptools_build_meta",
            "python_flit_core",
            "python_hatchling",
            "python_poetry_core",
        }, name
        assert setting(path, "LICENSE"), name
        checksums = values(path, "LIC_FILES_CHKSUM")
        assert checksums and all(re.search(r";md5=[0-9a-f]{32}$", c) for c in checksums), name
        assert re.fullmatch(r"[0-9a-f]{64}", setting(path, "SRC_URI[sha256sum]")), name
        for dependency in values(path, "RDEPENDS:${PN}"):
            assert dependency in STDLIB | set(KNOWN_RECIPES) | set(recipes), f"{name}: {dependency}"


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


def test_recipe_version_follows_pyproject():
    recipe = homei_recipe()
    assert recipe.stem.partition("_")[2] == pyproject()["project"]["version"]
    # PV comes from the file name; at most "+git" is added (the source is a git commit).
    assert [(op, value) for name, op, value in assignments(recipe) if name == "PV"] == [
        (".=", "+git")
    ]


def test_package_builds_with_scarthgap_setuptools():
    project = pyproject()
    assert project["build-system"]["build-backend"] == "setuptools.build_meta"
    for text in project["build-system"]["requires"]:
        requirement = Requirement(text)
        if requirement.name == "setuptools":
            assert requirement.specifier.contains(SCARTHGAP_SETUPTOOLS), text
    assert Requirement(f"python{project['project']['requires-python']}").specifier.contains("3.12")
    # setuptools 69 takes no PEP 639 licence string: the recipe rewrites that line into a
    # table (do_configure), which must give the same licence back.
    licence = project["project"]["license"]
    assert setting(homei_recipe(), "LICENSE") == (
        licence if isinstance(licence, str) else licence["text"]
    )
    if isinstance(licence, str):
        assert r"""sed -i -e 's/^license = \("[^"]*"\)$/license = {text = \1}/'""" in (
            homei_recipe().read_text()
        )
        text = (ROOT / "pyproject.toml").read_text()
        rewritten = re.sub(r'^license = ("[^"]*")$', r"license = {text = \1}", text, flags=re.M)
        assert tomllib.loads(rewritten)["project"]["license"] == {"text": licence}


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
