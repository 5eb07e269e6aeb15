#!/usr/bin/env bash
# Rebuild the reading room's front end (src/tumorboard/web/frontend, NiiVue + esbuild)
# into src/tumorboard/web/static/, which is shipped inside the Python package so that
# `pip install .` needs no Node. Needs Node >= 18 and npm; installs exactly the locked
# versions (package-lock.json) into frontend/node_modules/ (not committed).
set -euo pipefail
cd "$(dirname "$0")/../src/tumorboard/web/frontend"
npm ci --no-audit --no-fund
npm run build
ls -l ../static
