SUMMARY = "U-Boot script of Homei's A/B boot on qemuarm64"
DESCRIPTION = "boot.scr for the boot partition: picks the root filesystem slot from \
               RAUC's uboot backend variables and counts boot attempts."
SECTION = "bootloaders"
LICENSE = "MIT"
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/MIT;md5=0835ade698e0bcf8506ecda2f7b4f302"

DEPENDS = "u-boot-mkimage-native"

SRC_URI = "file://boot.cmd"

S = "${WORKDIR}"

COMPATIBLE_MACHINE = "qemuarm64"

inherit deploy nopackages

do_compile() {
    mkimage -A arm64 -O linux -T script -C none -n "Homei A/B boot" -d ${S}/boot.cmd ${B}/boot.scr
}

do_deploy() {
    install -m 0644 ${B}/boot.scr ${DEPLOYDIR}/boot.scr
}
addtask deploy after do_compile before do_build
