# /etc/fstab of every slot: the data partition at /data, Homei's and Docker's state
# bind-mounted from it, and the boot partition that holds the bootloader's environment RAUC
# writes. The devices are per machine (conf/distro/homei.conf: HOMEI_DATA_DEVICE, ...).
# homei-data-dirs.service (recipe homei-data) creates the bind sources first. Like every
# append of this layer, it applies only with DISTRO = "homei".
do_install:append:homei() {
    printf '%s\t/data\text4\t%s\t0\t2\n' "${HOMEI_DATA_DEVICE}" "${HOMEI_DATA_OPTIONS}" >> ${D}${sysconfdir}/fstab
    for state in homei docker; do
        printf '/data/%s\t/var/lib/%s\tnone\tbind,x-systemd.requires=homei-data-dirs.service\t0\t0\n' \
            "$state" "$state" >> ${D}${sysconfdir}/fstab
    done
    if [ -n "${HOMEI_BOOT_DEVICE}" ]; then
        printf '%s\t%s\tvfat\tumask=0077,noatime\t0\t2\n' \
            "${HOMEI_BOOT_DEVICE}" "${HOMEI_BOOT_MOUNTPOINT}" >> ${D}${sysconfdir}/fstab
    fi
}
