SUMMARY = "Homei, the appliance daemon of a Homei edge device"
DESCRIPTION = "One asyncio process that owns the device: its apps on Docker, its OS \
               updates through RAUC with a boot health gate, backups, monitoring and jobs, \
               behind a local REST and WebSocket API and the homei CLI."
SECTION = "console/utils"
CVE_PRODUCT = "homei"
LICENSE = "Apache-2.0"
# The project states its licence in pyproject.toml and ships no licence file of its own.
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/Apache-2.0;md5=89aea4e17d99a7cacdbeed46a0096b10"

# Node.js bundles the dashboard (see SRC_URI_DASHBOARD).
DEPENDS += "nodejs-native"

# The package is built from this very repository (HOMEI_TOPDIR, set by the layer's
# layer.conf): the commit HOMEI_SRCREV of branch HOMEI_BRANCH, the branch head by default.
# A release pins HOMEI_SRCREV; a build from another clone sets HOMEI_SRC_URI.
HOMEI_BRANCH ??= "main"
HOMEI_SRC_URI ??= "git://${HOMEI_TOPDIR};protocol=file;branch=${HOMEI_BRANCH}"
HOMEI_SRCREV ??= "${AUTOREV}"

PV .= "+git"

# The dashboard: web/ is bundled by esbuild into homei/web before the wheel is made, as
# scripts/bootstrap does on a development machine. Its npm packages come from web/'s lockfile
# through bitbake's npmsw fetcher (devDependencies included: esbuild is one), so the build
# itself needs no network.
SRC_URI_DASHBOARD = "npmsw://${HOMEI_TOPDIR}/web/package-lock.json;dev=1;destsuffix=git/web"

SRC_URI = "${HOMEI_SRC_URI} ${SRC_URI_DASHBOARD}"
SRCREV = "${HOMEI_SRCREV}"

S = "${WORKDIR}/git"

inherit python_setuptools_build_meta systemd

# scarthgap's setuptools (69.1) predates PEP 639 licence expressions (setuptools 77): it
# rejects `license = "Apache-2.0"` in pyproject.toml, but takes the same text as a table.
do_configure:prepend() {
    sed -i -e 's/^license = \("[^"]*"\)$/license = {text = \1}/' ${S}/pyproject.toml
}

do_compile:prepend() {
    (cd ${S}/web && node build.mjs)
}

# The units of the repository's systemd/ folder, installed and enabled as they are.
SYSTEMD_SERVICE:${PN} = "homei.service homei-gate.service"
SYSTEMD_AUTO_ENABLE:${PN} = "enable"

do_install:append() {
    install -d ${D}${systemd_system_unitdir}
    install -m 0644 ${S}/systemd/homei.service ${D}${systemd_system_unitdir}/
    install -m 0644 ${S}/systemd/homei-gate.service ${D}${systemd_system_unitdir}/
}

FILES:${PN} += "${systemd_system_unitdir}/homei.service ${systemd_system_unitdir}/homei-gate.service"

# Every dependency of pyproject.toml's [project] as its recipe (tests/unit/test_yocto_layer.py
# holds this list against pyproject.toml), and the parts of Python's standard library that
# Homei imports.
RDEPENDS:${PN} += "\
    python3-aiodocker \
    python3-aiohttp \
    python3-aiosmtplib \
    python3-aiosqlite \
    python3-asyncio \
    python3-asyncssh \
    python3-compression \
    python3-core \
    python3-cronsim \
    python3-crypt \
    python3-cryptography \
    python3-datetime \
    python3-dbus-fast \
    python3-io \
    python3-json \
    python3-logging \
    python3-msgspec \
    python3-netclient \
    python3-prometheus-client \
    python3-psutil \
    python3-pyjwt \
    python3-sqlite3 \
    python3-threading \
    python3-tomllib \
    python3-unixadmin \
    python3-zstandard \
"
