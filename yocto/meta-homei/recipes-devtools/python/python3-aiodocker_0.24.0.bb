SUMMARY = "Docker Engine API client for asyncio"
DESCRIPTION = "A simple Docker HTTP API wrapper written with asyncio and aiohttp: \
               containers, images, logs, stats and events, streamed without threads."
HOMEPAGE = "https://github.com/aio-libs/aiodocker"
BUGTRACKER = "https://github.com/aio-libs/aiodocker/issues"
SECTION = "devel/python"
LICENSE = "Apache-2.0"
LIC_FILES_CHKSUM = "file://LICENSE;md5=1170bfea4a4746e7142f3d1fe860f75e"

SRC_URI[sha256sum] = "661a6f9a479951f11f793031dcd5d55337e232c4ceaee69d51ceb885e5f16fac"

# hatch-vcs takes the version from the sdist's PKG-INFO.
DEPENDS += "python3-hatch-vcs-native"

inherit pypi python_hatchling

RDEPENDS:${PN} += "\
    python3-aiohttp \
    python3-asyncio \
    python3-compression \
    python3-core \
    python3-datetime \
    python3-io \
    python3-json \
    python3-logging \
    python3-netclient \
    python3-shell \
"

BBCLASSEXTEND = "native nativesdk"
