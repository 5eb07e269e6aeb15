#!/usr/bin/env bash
# Debian packages the test suite needs, installed only where missing:
#   postgresql -- the record's tests start their own server on a Unix socket
#                 (tests/postgres_server.py) and stop it afterwards.
#   poppler-utils -- pdftotext/pdftoppm read back the case-report form PDF.
#   dicom3tools -- dciodvfy checks every DICOM object 'tumorboard export' writes.
#   orthanc, orthanc-dicomweb -- the PACS tests start a private Orthanc with its
#                 DICOMweb plugin on 127.0.0.1 (tests/pacs/orthanc_server.py; a C
#                 compiler, gcc, builds the shim that keeps it on the loopback).
#   chromium -- the reading room's browser tests drive Debian's Chromium
#                 (tests/web/, through Playwright with that executable).
# Needs root (or sudo) only when something is missing.
set -euo pipefail

missing=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v pdftotext >/dev/null 2>&1 || missing+=(poppler-utils)
command -v dciodvfy >/dev/null 2>&1 || missing+=(dicom3tools)
[ -x /usr/sbin/Orthanc ] || command -v Orthanc >/dev/null 2>&1 || missing+=(orthanc)
ls /usr/share/orthanc/plugins/libOrthancDicomWeb.so* >/dev/null 2>&1 || missing+=(orthanc-dicomweb)
command -v cc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || missing+=(chromium)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "installing Debian packages: ${missing[*]}" >&2
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
# Installing a server package must not start a system-wide service (the Debian
# orthanc package would listen on every interface): hold services back with a
# policy-rc.d for the duration of the install unless the machine already has one.
added_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | "${sudo_cmd[@]}" tee /usr/sbin/policy-rc.d >/dev/null
  "${sudo_cmd[@]}" chmod 755 /usr/sbin/policy-rc.d
  added_policy=1
fi
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
if [ "$added_policy" -eq 1 ]; then
  "${sudo_cmd[@]}" rm -f /usr/sbin/policy-rc.d
fi
