#!/usr/bin/env bash
# Debian packages the test suite needs, installed only where missing:
#   postgresql -- the record's tests start their own server on a Unix socket
#                 (tests/postgres_server.py) and stop it afterwards.
#   poppler-utils -- pdftotext/pdftoppm read back the case-report form PDF.
#   dicom3tools -- dciodvfy checks every DICOM object 'tumorboard export' writes.
# Needs root (or sudo) only when something is missing.
set -euo pipefail

missing=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v pdftotext >/dev/null 2>&1 || missing+=(poppler-utils)
command -v dciodvfy >/dev/null 2>&1 || missing+=(dicom3tools)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "installing Debian packages: ${missing[*]}" >&2
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
