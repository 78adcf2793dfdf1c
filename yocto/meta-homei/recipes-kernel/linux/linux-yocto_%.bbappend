# The QEMU machines' hardware watchdog. What RAUC needs of the kernel (loop, squashfs,
# dm-verity) comes from meta-rauc's own append, with "rauc" in DISTRO_FEATURES.
FILESEXTRAPATHS:prepend:homei := "${THISDIR}/files:"

SRC_URI:append:homei:qemuall = " file://homei-qemu-watchdog.cfg"
