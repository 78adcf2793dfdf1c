SUMMARY = "asyncio bridge to the standard sqlite3 module"
DESCRIPTION = "aiosqlite provides a friendly, async interface to sqlite databases, \
               running each connection's queries on a thread of its own."
HOMEPAGE = "https://github.com/omnilib/aiosqlite"
BUGTRACKER = "https://github.com/omnilib/aiosqlite/issues"
SECTION = "devel/python"
LICENSE = "MIT"
LIC_FILES_CHKSUM = "file://LICENSE;md5=f0c422eaa1f23d09f8203dc0af3e2d54"

SRC_URI[sha256sum] = "131bb8056daa3bc875608c631c678cda73922a2d4ba8aec373b19f18c17e7aa3"

inherit pypi python_flit_core

RDEPENDS:${PN} += "\
    python3-asyncio \
    python3-core \
    python3-logging \
    python3-sqlite3 \
    python3-threading \
    python3-typing-extensions \
"

BBCLASSEXTEND = "native nativesdk"
