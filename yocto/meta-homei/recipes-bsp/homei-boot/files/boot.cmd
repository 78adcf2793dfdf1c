# U-Boot script of Homei on qemuarm64: boots the root filesystem slot that RAUC's uboot
# backend chose. BOOT_ORDER, BOOT_A_LEFT and BOOT_B_LEFT live in U-Boot's environment
# (uboot.env on the boot partition, which RAUC reaches through fw_setenv). Every boot takes
# one attempt from the slot it starts; `rauc status mark-good` fills the counter again, and
# a slot with no attempts left is skipped, so a slot that never comes up falls back.
# Disk: vda1 boot, vda2 rootfs A, vda3 rootfs B, vda4 data (rauc/system.conf.qemu).

test -n "${BOOT_ORDER}" || setenv BOOT_ORDER "A B"
test -n "${BOOT_A_LEFT}" || setenv BOOT_A_LEFT 3
test -n "${BOOT_B_LEFT}" || setenv BOOT_B_LEFT 3

setenv rauc_slot
for BOOT_SLOT in "${BOOT_ORDER}"; do
  if test "x${rauc_slot}" != "x"; then
    # a slot was chosen already
  elif test "x${BOOT_SLOT}" = "xA"; then
    if test ${BOOT_A_LEFT} -gt 0; then
      setexpr BOOT_A_LEFT ${BOOT_A_LEFT} - 1
      setenv rauc_slot A
      setenv rauc_part 2
    fi
  elif test "x${BOOT_SLOT}" = "xB"; then
    if test ${BOOT_B_LEFT} -gt 0; then
      setexpr BOOT_B_LEFT ${BOOT_B_LEFT} - 1
      setenv rauc_slot B
      setenv rauc_part 3
    fi
  fi
done

if test "x${rauc_slot}" = "x"; then
  echo "No slot has boot attempts left: giving both slots another round"
  setenv BOOT_A_LEFT 3
  setenv BOOT_B_LEFT 3
  saveenv
  reset
fi
saveenv

echo "Booting slot ${rauc_slot} (attempts left: A ${BOOT_A_LEFT}, B ${BOOT_B_LEFT})"
load virtio 0:${rauc_part} ${kernel_addr_r} /boot/Image
setenv bootargs "console=ttyAMA0,115200 root=/dev/vda${rauc_part} rootfstype=ext4 rootwait panic=60 rauc.slot=${rauc_slot}"
booti ${kernel_addr_r} - ${fdtcontroladdr}
