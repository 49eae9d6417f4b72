#!/usr/bin/env bash
# Sets everything up and runs the main job: Orthanc with this plugin, the
# DICOMweb plugin and a small demo dataset. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec npx tsx scripts/demo.ts "$@"
