SUMMARY = "Signed RAUC update bundle of the Homei device image"
DESCRIPTION = "A verity bundle holding homei-image's root filesystem for the rootfs slot \
               class, compatible with the machine's /etc/rauc/system.conf and signed with \
               the key and certificate named by RAUC_KEY_FILE and RAUC_CERT_FILE."
LICENSE = "MIT"

inherit bundle

RAUC_BUNDLE_FORMAT = "verity"
# The machine's compatible (conf/distro/homei.conf), the one its system.conf states.
RAUC_BUNDLE_COMPATIBLE = "${HOMEI_RAUC_COMPATIBLE}"
RAUC_BUNDLE_VERSION = "${DISTRO_VERSION}"
RAUC_BUNDLE_DESCRIPTION = "${DISTRO_NAME} ${DISTRO_VERSION} for ${MACHINE}"

RAUC_BUNDLE_SLOTS = "rootfs"
RAUC_SLOT_rootfs = "homei-image"
RAUC_SLOT_rootfs[fstype] = "ext4"

# The signing key and certificate, and the keyring that checks the signature at once, are
# the device maker's, named by variables (local.conf, or the environment through kas):
# RAUC_KEY_FILE, RAUC_CERT_FILE and RAUC_KEYRING_FILE, absolute paths outside the
# repository. bundle.bbclass stops the build when the key or the certificate is missing.
BUNDLE_ARGS:append = " ${@'--keyring=' + d.getVar('RAUC_KEYRING_FILE') if d.getVar('RAUC_KEYRING_FILE').startswith('/') else ''}"
