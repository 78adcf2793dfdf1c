# /etc/rauc/system.conf is the machine's file in the repository's rauc/ folder
# (HOMEI_RAUC_SYSTEM_CONF, set per machine in conf/distro/homei.conf), taken from there.
# The keyring /etc/rauc/ca.cert.pem is the device maker's CA certificate: RAUC_KEYRING_FILE,
# an absolute path on the build host, never a file of the repository.
FILESEXTRAPATHS:prepend:homei := "${HOMEI_TOPDIR}/rauc:${THISDIR}/files:"

SRC_URI:remove:homei = "file://system.conf"
SRC_URI:append:homei = " file://${HOMEI_RAUC_SYSTEM_CONF}"
# The Orin's RAUC bootloader backend around nvbootctrl (system.conf: bootloader=custom),
# and what lets rauc-mark-good.service run with it.
SRC_URI:append:homei:tegra = " \
    file://nvbootctrl-backend.sh \
    file://rauc-mark-good-nvbootctrl.conf \
"

# system.conf differs from machine to machine.
PACKAGE_ARCH:homei = "${MACHINE_ARCH}"

do_install:homei() {
    install -d ${D}${sysconfdir}/rauc
    install -m 0644 ${WORKDIR}/${HOMEI_RAUC_SYSTEM_CONF} ${D}${sysconfdir}/rauc/system.conf
    # A machine that boots rauc/'s configuration through another bootloader (qemuarm64:
    # U-Boot, its environment in /boot/uboot/uboot.env) gets that bootloader and its own
    # compatible; the comments, which describe the original machine, go.
    if [ -n "${HOMEI_RAUC_BOOTLOADER}" ]; then
        sed -i -e '/^#/d' -e '/^grubenv=/d' \
            -e 's/^bootloader=.*/bootloader=${HOMEI_RAUC_BOOTLOADER}/' \
            -e 's/^compatible=.*/compatible=${HOMEI_RAUC_COMPATIBLE}/' \
            ${D}${sysconfdir}/rauc/system.conf
    fi
    if ! grep -q "^compatible=${HOMEI_RAUC_COMPATIBLE}\$" ${D}${sysconfdir}/rauc/system.conf; then
        bbfatal "${HOMEI_RAUC_SYSTEM_CONF} is not compatible=${HOMEI_RAUC_COMPATIBLE} (HOMEI_RAUC_COMPATIBLE)"
    fi

    if ! grep -q "BEGIN CERTIFICATE" "${WORKDIR}/${RAUC_KEYRING_FILE}"; then
        bbfatal "Set RAUC_KEYRING_FILE to the absolute path of the CA certificate that signs your bundles"
    fi
    install -m 0644 "${WORKDIR}/${RAUC_KEYRING_FILE}" ${D}${sysconfdir}/rauc/ca.cert.pem
}

do_install:append:homei:tegra() {
    install -D -m 0755 ${WORKDIR}/nvbootctrl-backend.sh ${D}${nonarch_libdir}/rauc/nvbootctrl-backend.sh
    install -D -m 0644 ${WORKDIR}/rauc-mark-good-nvbootctrl.conf \
        ${D}${systemd_system_unitdir}/rauc-mark-good.service.d/10-homei-nvbootctrl.conf
}

FILES:${PN}:append:homei:tegra = " \
    ${nonarch_libdir}/rauc/nvbootctrl-backend.sh \
    ${systemd_system_unitdir}/rauc-mark-good.service.d \
"
RDEPENDS:${PN}:append:homei:tegra = " tegra-redundant-boot-base"
