#!/usr/bin/env bash
# Sets everything up and runs all the tests (unit, then integration against
# the real Orthanc with the built plugin).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm test
