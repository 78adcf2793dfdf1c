SUMMARY = "Cron expression parser and evaluator"
DESCRIPTION = "cronsim evaluates cron expressions: one parser for the schedules of \
               backups, jobs and secret rotations."
HOMEPAGE = "https://github.com/cuu508/cronsim"
BUGTRACKER = "https://github.com/cuu508/cronsim/issues"
SECTION = "devel/python"
LICENSE = "BSD-3-Clause"
LIC_FILES_CHKSUM = "file://LICENSE;md5=c0217a74c57989decda9185589ba3ec7"

SRC_URI[sha256sum] = "5aab98716ef90ab5ac6be294b2c3965dbf76dc869f048846a0af74ebb506c10d"

inherit pypi setuptools3

RDEPENDS:${PN} += "\
    python3-core \
    python3-datetime \
"

BBCLASSEXTEND = "native nativesdk"
