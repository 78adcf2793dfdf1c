# The hardware watchdog configuration of systemd, as a drop-in next to systemd-conf's own.
FILESEXTRAPATHS:prepend:homei := "${THISDIR}/files:"

SRC_URI:append:homei = " file://homei-watchdog.conf"

do_install:append:homei() {
    install -D -m 0644 ${WORKDIR}/homei-watchdog.conf ${D}${systemd_unitdir}/system.conf.d/10-homei-watchdog.conf
}
