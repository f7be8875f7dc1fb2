#!/usr/bin/env bash
# Debian's libonnx-testdata: the ONNX project's backend conformance cases, which test/onnx runs
# (under /usr/share/libonnx-testdata/data). Idempotent and quiet.
set -euo pipefail
if dpkg -s libonnx-testdata >/dev/null 2>&1; then exit 0; fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq libonnx-testdata >/dev/null
