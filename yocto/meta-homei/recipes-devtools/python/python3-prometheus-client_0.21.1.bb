SUMMARY = "Python client for the Prometheus monitoring system"
DESCRIPTION = "Instrumentation library: counters, gauges, histograms and summaries, \
               exposed in the Prometheus text format."
HOMEPAGE = "https://github.com/prometheus/client_python"
BUGTRACKER = "https://github.com/prometheus/client_python/issues"
SECTION = "devel/python"
LICENSE = "Apache-2.0 & BSD-2-Clause"
# NOTICE: the bundled decorator module (prometheus_client/decorator.py) is BSD-2-Clause.
LIC_FILES_CHKSUM = "file://LICENSE;md5=86d3f3a95c324c9479bd8986968f4327 \
                    file://NOTICE;md5=4951b46e0743f84957d24051dcbdc0ae"

SRC_URI[sha256sum] = "252505a722ac04b0456be05c05f75f45d760c2911ffc45f2a06bcaed9f3ae3fb"

PYPI_PACKAGE = "prometheus_client"

inherit pypi setuptools3

# wsgiref and timeit come with python3-misc.
RDEPENDS:${PN} += "\
    python3-compression \
    python3-core \
    python3-io \
    python3-json \
    python3-misc \
    python3-mmap \
    python3-netclient \
    python3-netserver \
    python3-shell \
    python3-threading \
"

BBCLASSEXTEND = "native nativesdk"
