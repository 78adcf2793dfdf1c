#!/bin/sh
# RAUC `custom` bootloader backend for the development device and the tests.
#
# TEST DOUBLE: this stands in for the Jetson's bootloader (rauc/nvbootctrl-backend.sh around
# nvbootctrl) and for GRUB in QEMU. It boots nothing; it keeps the bootloader's state in plain
# files so that RAUC's installs and marks can be observed and a "reboot" can be played:
#
#   $HOMEI_DEV_BOOT_DIR, else the directory `boot` next to this script's path (so a symlink
#   DIR/bootloader -> rauc/dev-bootloader.sh keeps its state in DIR/boot):
#     primary      bootname the next boot starts (default A)
#     state.NAME   good | bad for each slot (default good)
#     booted       bootname of the running "boot", written by devdevice/rauc-up
#     calls.log    one line per change (set-primary, set-state), for diagnostics
#
# Protocol (RAUC's custom backend): get-primary, set-primary NAME, get-state NAME,
# set-state NAME good|bad, get-current (RAUC >= 1.10). Answers on stdout, exit 0 on success.
# Like GRUB's and barebox's backends, making a slot primary also makes it bootable (good).
set -eu

dir=${HOMEI_DEV_BOOT_DIR:-$(dirname "$0")/boot}
mkdir -p "$dir"
case ${1:-} in set-*) echo "$(date -u +%FT%TZ) $*" >>"$dir/calls.log" ;; esac

fail() { echo "dev-bootloader: $*" >&2; exit 1; }
name() { case ${1:-} in ''|*[!A-Za-z0-9_-]*) fail "bad bootname '${1:-}'" ;; esac; }
put() { printf '%s\n' "$2" >"$dir/$1.tmp" && mv "$dir/$1.tmp" "$dir/$1"; }  # atomic write
get() { if [ -s "$dir/$1" ]; then head -n1 "$dir/$1"; else echo "$2"; fi; }

case ${1:-} in
    get-primary) get primary A ;;
    set-primary) name "${2:-}"; put "state.$2" good; put primary "$2" ;;
    get-state) name "${2:-}"; get "state.$2" good ;;
    set-state)
        name "${2:-}"
        case ${3:-} in good|bad) put "state.$2" "$3" ;; *) fail "state must be good or bad" ;; esac ;;
    get-current) get booted "$(get primary A)" ;;
    *) fail "usage: $0 get-primary | set-primary NAME | get-state NAME | set-state NAME good|bad | get-current" ;;
esac
