SUMMARY = "Python bindings to the Zstandard (zstd) compression library"
DESCRIPTION = "Streaming zstd compression and decompression for Python, with the \
               zstd library built in (a C extension)."
HOMEPAGE = "https://github.com/indygreg/python-zstandard"
BUGTRACKER = "https://github.com/indygreg/python-zstandard/issues"
SECTION = "devel/python"
# python-zstandard is BSD-3-Clause; the zstd sources it bundles are BSD-3-Clause or GPL-2.0-only.
LICENSE = "BSD-3-Clause & (BSD-3-Clause | GPL-2.0-only)"
LIC_FILES_CHKSUM = "file://LICENSE;md5=3ae87c50fd64b6f0942823686871e758 \
                    file://zstd/LICENSE;md5=0822a32f7acdbe013606746641746ee8 \
                    file://zstd/COPYING;md5=39bba7d2cf0ba1036f2a6e2be52fe3f0"

SRC_URI[sha256sum] = "b2d8c62d08e7255f68f7a740bae85b3c9b8e5466baa9cbf7f57f1cde0ac6bc09"

# setup.py directly: the sdist's [build-system] pins setuptools<69, older than scarthgap's.
# Only the C backend: the CFFI one is for PyPy.
inherit pypi setuptools3

SETUPTOOLS_BUILD_ARGS = "--no-cffi-backend"

RDEPENDS:${PN} += "python3-core"

BBCLASSEXTEND = "native nativesdk"
