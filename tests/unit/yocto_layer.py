"""What the Yocto layer tests share: where the layer is, the recipes the layers beneath it
provide on scarthgap, and small readers of BitBake, kas and wic files."""

from __future__ import annotations

import configparser
import re
import tomllib
from functools import cache
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.conftest import ROOT

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
    "python3-aiosmtplib",
    "python3-aiosqlite",
    "python3-asyncssh",
    "python3-cronsim",
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


def kas_files() -> list[Path]:
    files = sorted(KAS.glob("*.yml"))
    assert files
    return files
