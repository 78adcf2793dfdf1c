SUMMARY = "GRUB environment of Homei's A/B boot on qemux86-64"
DESCRIPTION = "The initial GRUB environment block (ORDER, A_OK/B_OK, A_TRY/B_TRY) that \
               wic/homei-grub.cfg reads and RAUC's grub backend writes, deployed as \
               homei-grubenv for the EFI system partition (IMAGE_EFI_BOOT_FILES)."
SECTION = "bootloaders"
LICENSE = "MIT"
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/MIT;md5=0835ade698e0bcf8506ecda2f7b4f302"

S = "${WORKDIR}"

COMPATIBLE_MACHINE = "qemux86-64"

inherit deploy nopackages

do_compile() {
    # GRUB's environment block: a 1024-byte file, its signature line, then name=value
    # lines, padded with '#'. Both slots start good: wic writes the same root filesystem
    # into A and B.
    printf '# GRUB Environment Block\nORDER=A B\nA_OK=1\nA_TRY=0\nB_OK=1\nB_TRY=0\n' > ${B}/grubenv
    size=$(stat -c %s ${B}/grubenv)
    head -c $(expr 1024 - $size) /dev/zero | tr '\0' '#' >> ${B}/grubenv
}

do_deploy() {
    install -m 0644 ${B}/grubenv ${DEPLOYDIR}/homei-grubenv
}
addtask deploy after do_compile before do_build
