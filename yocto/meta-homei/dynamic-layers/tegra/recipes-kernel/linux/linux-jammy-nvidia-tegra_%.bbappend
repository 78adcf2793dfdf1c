# RAUC's needs of the kernel on the Jetson Orin Nano (meta-tegra's kernel).
FILESEXTRAPATHS:prepend:homei := "${THISDIR}/files:"

SRC_URI:append:homei = " file://homei-rauc.cfg"
