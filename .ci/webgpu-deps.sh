#!/usr/bin/env bash
# Debian packages Dawn needs to run WebGPU on SwiftShader here: the Vulkan loader and chromium
# (whose chromium-common ships vk_swiftshader_icd.json). Idempotent and quiet.
set -euo pipefail
if dpkg -s libvulkan1 chromium >/dev/null 2>&1; then exit 0; fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq libvulkan1 chromium >/dev/null
