#!/bin/sh
# Development PKI for signing RAUC bundles: a CA and a signing certificate issued by it.
#
#   rauc/dev-pki.sh OUTDIR [NAME]
#
# Writes OUTDIR/ca.cert.pem, ca.key.pem (the CA: its certificate is the device's keyring) and
# OUTDIR/signing.cert.pem, signing.key.pem (what `rauc bundle` signs with). Idempotent: files
# that exist are kept, so a device keeps trusting the same CA. Every OUTDIR gets its own CA:
# run it again with another OUTDIR (and NAME, the organisation in the subjects) to make a
# CA that the device does NOT trust, e.g. for "wrongly signed" test bundles.
#
# The signing certificate carries no extendedKeyUsage on purpose: RAUC 1.8 rejects a leaf
# with extendedKeyUsage=codeSigning unless system.conf sets check-purpose=codesign.
# Dev keys are generated, never committed. Needs: openssl.
set -eu

out=${1:?usage: dev-pki.sh OUTDIR [NAME]}
name=${2:-Homei Development}
days=${HOMEI_PKI_DAYS:-3650}

mkdir -p "$out"
cd "$out"
umask 077

# P-256 keys: quick to generate, supported by RAUC's CMS signatures.
newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

if [ ! -s ca.key.pem ] || [ ! -s ca.cert.pem ]; then
    rm -f ca.key.pem ca.cert.pem signing.key.pem signing.cert.pem  # a new CA voids the old leaf
    newkey ca.key.pem
    openssl req -x509 -new -key ca.key.pem -out ca.cert.pem -days "$days" -sha256 \
        -subj "/O=$name/CN=$name CA" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -addext "subjectKeyIdentifier=hash"
fi

if [ ! -s signing.key.pem ] || [ ! -s signing.cert.pem ]; then
    newkey signing.key.pem
    ext=$(mktemp)
    trap 'rm -f "$ext" signing.csr.pem' EXIT
    cat >"$ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid,issuer
EXT
    openssl req -new -key signing.key.pem -out signing.csr.pem -subj "/O=$name/CN=$name bundle signing"
    openssl x509 -req -in signing.csr.pem -CA ca.cert.pem -CAkey ca.key.pem -days "$days" -sha256 \
        -set_serial "0x$(openssl rand -hex 16)" -extfile "$ext" -out signing.cert.pem 2>/dev/null
fi

chmod 644 ca.cert.pem signing.cert.pem
openssl verify -CAfile ca.cert.pem signing.cert.pem >/dev/null
