"""The Yocto layer (yocto/), which cannot be built here: lint-clean recipes, kas files that
kas's own schema accepts, and recipes that follow the project they package."""

from __future__ import annotations

import importlib.resources
import json
import re
import subprocess
import tomllib
from pathlib import Path

import jsonschema
import yaml
from packaging.requirements import Requirement
from packaging.version import Version

from tests.conftest import ROOT, VENV_BIN
from tests.unit.yocto_layer import (
    _HOMEI,
    _PYPI,
    FINDING,
    KAS,
    KNOWN_RECIPES,
    LAYER,
    LAYER_PYTHON,
    NOT_APPLICABLE,
    PYTHON_RECIPES,
    RAUC_CONF_APPEND,
    SCARTHGAP_SETUPTOOLS,
    STDLIB,
    SUPPRESSED,
    assignments,
    bitbake_files,
    homei_recipe,
    inherits,
    kas_files,
    layer_python_recipes,
    provided_version,
    pyproject,
    recipe_for,
    setting,
    values,
)


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


def test_recipe_builds_the_dashboard_from_the_lockfile():
    # The image carries the dashboard: its npm packages come from web/'s lockfile (no network
    # in do_compile), the bundle is built before the wheel, and the wheel takes homei/web.
    recipe = homei_recipe().read_text()
    assert "npmsw://${HOMEI_TOPDIR}/web/package-lock.json;dev=1;destsuffix=git/web" in recipe
    assert "${SRC_URI_DASHBOARD}" in setting(homei_recipe(), "SRC_URI")
    assert 'DEPENDS += "nodejs-native"' in recipe
    assert "(cd ${S}/web && node build.mjs)" in recipe
    package_data = pyproject()["tool"]["setuptools"]["package-data"]["homei"]
    assert {"web/*.html", "web/assets/*"} <= set(package_data)
    lock = json.loads((ROOT / "web" / "package-lock.json").read_text())
    assert all(
        entry.get("resolved") and entry.get("integrity")
        for name, entry in lock["packages"].items()
        if name
    ), "every locked package needs its address and integrity for the npmsw fetcher"
