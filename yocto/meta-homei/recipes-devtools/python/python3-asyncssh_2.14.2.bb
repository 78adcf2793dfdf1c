SUMMARY = "Asynchronous SSHv2 client and server library"
DESCRIPTION = "AsyncSSH implements SSHv2 on asyncio: Homei runs jobs on peer systems \
               over it, many hosts on one event loop."
HOMEPAGE = "https://github.com/ronf/asyncssh"
BUGTRACKER = "https://github.com/ronf/asyncssh/issues"
SECTION = "devel/python"
LICENSE = "EPL-2.0 | GPL-2.0-or-later"
LIC_FILES_CHKSUM = "file://LICENSE;md5=d9fc0efef5228704e7f5b37f27192723 \
                    file://COPYRIGHT;md5=a3d68919d4bc3d853512d45cbd1cc345"

SRC_URI[sha256sum] = "e956bf8988d07a06ba3305f6604e261f4ca014c4a232f0873f1c7692fbe3cfc2"

# 2.14 is the newest release that takes scarthgap's cryptography (42); later ones want 48.
inherit pypi setuptools3

RDEPENDS:${PN} += "\
    python3-asyncio \
    python3-core \
    python3-cryptography \
    python3-logging \
    python3-typing-extensions \
"

BBCLASSEXTEND = "native nativesdk"
