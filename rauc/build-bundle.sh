#!/bin/sh
# Builds a signed RAUC bundle from a root filesystem image.
#
#   rauc/build-bundle.sh --image ROOTFS.ext4 --compatible C --version V \
#       --cert SIGNING.cert.pem --key SIGNING.key.pem --output OUT.raucb \
#       [--format verity|plain] [--keyring CA.cert.pem] [--description TEXT] [--slot-class rootfs]
#
# The image's file name suffix tells RAUC how to write it (.ext4 onto ext4/raw slots, .img,
# .squashfs, ...); it is copied into the bundle under its own base name. --format defaults to
# verity (devices); host tests use plain (no device-mapper). --keyring makes `rauc bundle`
# check the signature against that CA at once. Needs: rauc, squashfs-tools.
set -eu

usage() { echo "usage: $0 --image FILE --compatible C --version V --cert PEM --key PEM --output FILE [--format verity|plain] [--keyring PEM] [--description TEXT] [--slot-class NAME]" >&2; exit 2; }

image='' compatible='' version='' cert='' key='' output='' keyring=''
format=verity description='' slotclass=rootfs
while [ $# -gt 0 ]; do
    [ $# -ge 2 ] || usage
    case $1 in
        --image) image=$2 ;;
        --compatible) compatible=$2 ;;
        --version) version=$2 ;;
        --cert) cert=$2 ;;
        --key) key=$2 ;;
        --output) output=$2 ;;
        --format) format=$2 ;;
        --keyring) keyring=$2 ;;
        --description) description=$2 ;;
        --slot-class) slotclass=$2 ;;
        *) usage ;;
    esac
    shift 2
done
for required in "$image" "$compatible" "$version" "$cert" "$key" "$output"; do
    [ -n "$required" ] || usage
done
case $format in plain|verity) ;; *) echo "$0: --format must be plain or verity" >&2; exit 2 ;; esac
[ -f "$image" ] || { echo "$0: no image file $image" >&2; exit 1; }

here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/content"

# Sed replacement values may not contain the delimiter or backslashes/ampersands.
quote() { printf '%s' "$1" | sed -e 's/[\\|&]/\\&/g'; }
name=$(basename "$image")
sed -e "s|@COMPATIBLE@|$(quote "$compatible")|" \
    -e "s|@VERSION@|$(quote "$version")|" \
    -e "s|@DESCRIPTION@|$(quote "${description:-$compatible $version}")|" \
    -e "s|@BUILD@|$(date -u +%Y%m%d%H%M%S)|" \
    -e "s|@FORMAT@|$format|" \
    -e "s|@SLOTCLASS@|$(quote "$slotclass")|" \
    -e "s|@IMAGE@|$(quote "$name")|" \
    "$here/manifest.raucm.in" | grep -v '^#' >"$work/content/manifest.raucm"
cp "$image" "$work/content/$name"

rm -f "$output"  # rauc bundle refuses to overwrite
set -- --cert="$cert" --key="$key"
[ -z "$keyring" ] || set -- "$@" --keyring="$keyring"
rauc bundle "$@" "$work/content" "$output"
