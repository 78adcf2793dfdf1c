SUMMARY = "asyncio SMTP client"
DESCRIPTION = "An SMTP client for asyncio with STARTTLS and login: Homei sends alert \
               e-mails with it."
HOMEPAGE = "https://github.com/cole/aiosmtplib"
BUGTRACKER = "https://github.com/cole/aiosmtplib/issues"
SECTION = "devel/python"
LICENSE = "MIT"
LIC_FILES_CHKSUM = "file://LICENSE.txt;md5=2b9776f33ed0a7fe8823d389e2d7c539"

SRC_URI[sha256sum] = "ac2b418d3260ba62d9cfd0fe7359726e9dc009a4e8e8d9909fdfae332f522a7c"

inherit pypi python_hatchling

RDEPENDS:${PN} += "\
    python3-asyncio \
    python3-core \
    python3-email \
    python3-netclient \
"

BBCLASSEXTEND = "native nativesdk"
