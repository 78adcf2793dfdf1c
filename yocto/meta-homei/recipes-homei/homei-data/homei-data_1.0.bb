SUMMARY = "The layout of the Homei data partition"
DESCRIPTION = "Folders on the data partition (/data) for Homei, Docker and RAUC, created \
               before /etc/fstab bind-mounts them, and the ordering that makes RAUC and \
               Docker wait for them. The mounts themselves are in base-files' fstab."
SECTION = "base"
LICENSE = "MIT"
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/MIT;md5=0835ade698e0bcf8506ecda2f7b4f302"

SRC_URI = "\
    file://docker-data.conf \
    file://homei-data-dirs.service \
    file://rauc-data.conf \
"

S = "${WORKDIR}"

inherit allarch

do_install() {
    install -D -m 0644 ${S}/homei-data-dirs.service ${D}${systemd_system_unitdir}/homei-data-dirs.service
    install -D -m 0644 ${S}/rauc-data.conf ${D}${systemd_system_unitdir}/rauc.service.d/10-homei-data.conf
    install -D -m 0644 ${S}/docker-data.conf ${D}${systemd_system_unitdir}/docker.service.d/10-homei-data.conf
    install -d ${D}/data
}

# homei-data-dirs.service has no [Install]: the bind mounts in /etc/fstab require it.
FILES:${PN} += "\
    /data \
    ${systemd_system_unitdir}/docker.service.d \
    ${systemd_system_unitdir}/homei-data-dirs.service \
    ${systemd_system_unitdir}/rauc.service.d \
"
