#!/usr/bin/env bash
# Install MRtrix3 (Debian package mrtrix3) for the ADC benchmark peer, if missing.
set -euo pipefail
if command -v dwi2adc >/dev/null 2>&1; then
  echo "dwi2adc already installed: $(command -v dwi2adc)"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends mrtrix3
command -v dwi2adc
