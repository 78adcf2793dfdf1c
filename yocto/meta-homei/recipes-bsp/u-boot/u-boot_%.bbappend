# qemuarm64: U-Boot keeps its environment in uboot.env on the boot partition, and the image
# gets the matching /etc/fw_env.config (package u-boot-env) for RAUC's uboot backend.
FILESEXTRAPATHS:prepend:homei := "${THISDIR}/files:"

SRC_URI:append:homei:qemuarm64 = " \
    file://fw_env.config \
    file://homei-env-in-fat.cfg \
"
