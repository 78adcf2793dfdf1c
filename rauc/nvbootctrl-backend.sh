#!/bin/sh
# RAUC `custom` bootloader backend for the Jetson Orin Nano, around NVIDIA's nvbootctrl.
# Installed as /usr/lib/rauc/nvbootctrl-backend.sh (see system.conf.jetson-orin-nano).
#
# RAUC's custom backend protocol: the script is called with
#   get-primary                   print the bootname the next boot starts
#   set-primary NAME              make NAME the slot the next boot starts
#   get-state NAME                print good or bad
#   set-state NAME good|bad       mark NAME
#   get-current                   print the booted bootname (asked by RAUC >= 1.10 only)
# and exits 0 on success, non-zero on failure.
#
# Bootnames A/B are nvbootctrl's slots 0/1. NVIDIA's UEFI keeps a retry counter per rootfs
# slot: a boot that is never marked successful counts down and then falls back to the other
# slot. Untested here (no Jetson): nvbootctrl's commands differ between L4T releases, check
# against `nvbootctrl -t rootfs` on the target's release. NVBOOTCTRL_TARGET can override the
# target (default rootfs: the APP/APP_b A/B, which NVIDIA couples to the bootloader slot).
set -eu

target=${NVBOOTCTRL_TARGET:-rootfs}
nv() { nvbootctrl -t "$target" "$@"; }
fail() { echo "nvbootctrl-backend: $*" >&2; exit 1; }
command -v nvbootctrl >/dev/null || fail "nvbootctrl not found"

index() { case ${1:-} in A) echo 0 ;; B) echo 1 ;; *) fail "unknown bootname '${1:-}'" ;; esac; }
bootname() { case $1 in 0|A|a) echo A ;; 1|B|b) echo B ;; *) fail "unexpected slot '$1'" ;; esac; }
current() { bootname "$(nv get-current-slot | tr -d '[:space:]')"; }

case ${1:-} in
    get-current) current ;;
    get-primary)
        # dump-slots-info names the active (next boot) slot, e.g. "Active rootfs slot: B";
        # without that line the active slot is the booted one.
        active=$(nv dump-slots-info 2>/dev/null | sed -n 's/^Active .*slot: *\([0-9ABab]\).*/\1/p' | head -n1)
        if [ -n "$active" ]; then bootname "$active"; else current; fi ;;
    set-primary) nv set-active-boot-slot "$(index "${2:-}")" ;;
    get-state)
        # "good" = bootable; for the booted slot RAUC also expects it marked successful.
        n=$(index "${2:-}")
        if ! nv is-slot-bootable "$n" >/dev/null 2>&1; then echo bad
        elif [ "${2}" = "$(current)" ] && ! nv is-slot-marked-successful "$n" >/dev/null 2>&1; then echo bad
        else echo good; fi ;;
    set-state)
        n=$(index "${2:-}")
        case ${3:-} in
            bad) nv set-slot-as-unbootable "$n" ;;
            # nvbootctrl can only mark the booted slot successful.
            good) [ "$2" = "$(current)" ] || fail "can mark only the booted slot good"
                  nv mark-boot-successful ;;
            *) fail "state must be good or bad" ;;
        esac ;;
    *) fail "usage: $0 get-primary | set-primary A|B | get-state A|B | set-state A|B good|bad | get-current" ;;
esac
