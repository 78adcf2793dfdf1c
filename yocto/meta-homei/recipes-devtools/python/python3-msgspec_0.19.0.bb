SUMMARY = "Fast serialization and validation library for Python"
DESCRIPTION = "msgspec encodes and decodes JSON, MessagePack, YAML and TOML and validates \
               the data against typed schemas (Structs), in a C extension."
HOMEPAGE = "https://jcristharif.com/msgspec/"
BUGTRACKER = "https://github.com/jcrist/msgspec/issues"
SECTION = "devel/python"
LICENSE = "BSD-3-Clause"
LIC_FILES_CHKSUM = "file://LICENSE;md5=c21402f8022478021f697044388b97c4"

SRC_URI[sha256sum] = "604037e7cd475345848116e89c553aa9a233259733ab51986ac924ab1b976f8e"

# msgspec builds with setup.py (versioneer); its pyproject.toml has no [build-system].
inherit pypi setuptools3

RDEPENDS:${PN} += "\
    python3-core \
    python3-datetime \
    python3-json \
    python3-netclient \
    python3-numbers \
"

BBCLASSEXTEND = "native nativesdk"
