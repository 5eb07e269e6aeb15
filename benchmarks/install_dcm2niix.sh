#!/usr/bin/env bash
# Install the peer DICOM converter dcm2niix (Debian package) used by
# benchmarks/bench_dicom_ingest.py, unless it is already on PATH.
set -euo pipefail
if command -v dcm2niix >/dev/null 2>&1; then
    echo "dcm2niix already installed: $(command -v dcm2niix)"
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y dcm2niix
command -v dcm2niix
