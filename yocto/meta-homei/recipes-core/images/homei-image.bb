SUMMARY = "The Homei device image"
DESCRIPTION = "systemd, Docker (docker-moby), RAUC with the machine's configuration and \
               the Homei daemon with its units; the data partition at /data holds \
               /var/lib/homei and /var/lib/docker, and systemd feeds the hardware watchdog."
LICENSE = "MIT"

inherit core-image

IMAGE_FEATURES += "ssh-server-openssh"

IMAGE_INSTALL = "\
    packagegroup-core-boot \
    ${CORE_IMAGE_EXTRA_INSTALL} \
    docker-moby \
    homei \
    homei-data \
    kernel-image \
    rauc \
    systemd-conf \
"
# RAUC's backends: GRUB's environment on qemux86-64, U-Boot's on qemuarm64 (the Orin's
# nvbootctrl comes with rauc-conf).
IMAGE_INSTALL:append:qemux86-64 = " grub-editenv"
IMAGE_INSTALL:append:qemuarm64 = " libubootenv-bin u-boot-env"

# Each slot carries its own kernel in /boot (kernel-image), so an update replaces both.
# ext4 is the root filesystem image the bundle puts into a slot; wic is the whole QEMU disk,
# tegraflash the Orin's flash package.
IMAGE_FSTYPES = "ext4"
IMAGE_FSTYPES:append:qemuall = " wic"
IMAGE_FSTYPES:append:tegra = " tegraflash"
WKS_FILE:qemux86-64 = "homei-qemux86-64.wks"
WKS_FILE:qemuarm64 = "homei-qemuarm64.wks"
# The GRUB environment (qemux86-64) and U-Boot script (qemuarm64) on the boot partition.
WKS_FILE_DEPENDS:append:qemux86-64 = " homei-boot-grub"
WKS_FILE_DEPENDS:append:qemuarm64 = " homei-boot-uboot"
do_image_wic[depends] += "${@bb.utils.contains('MACHINEOVERRIDES', 'qemux86-64', 'homei-boot-grub:do_deploy', '', d)}"
do_image_wic[depends] += "${@bb.utils.contains('MACHINEOVERRIDES', 'qemuarm64', 'homei-boot-uboot:do_deploy', '', d)}"
IMAGE_EFI_BOOT_FILES:qemux86-64 = "homei-grubenv;EFI/BOOT/grubenv"
IMAGE_BOOT_FILES:qemuarm64 = "boot.scr"

# QEMU's slots are 1536 MiB (the wks files); the root filesystem must fit with room to
# spare. The Orin's slot size is meta-tegra's ROOTFSPART_SIZE (half of it per slot).
IMAGE_ROOTFS_MAXSIZE:qemuall = "1400000"
