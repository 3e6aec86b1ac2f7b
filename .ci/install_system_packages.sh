#!/usr/bin/env bash
# Debian packages CI needs: aarch64 cross compiler, qemu user-mode emulation,
# ninja, google-benchmark, and clang with its sanitizer/libFuzzer runtimes
# (.ci/sanitizers.sh). Skips apt when everything is already present.
set -euo pipefail
packages=(g++-aarch64-linux-gnu qemu-user qemu-user-static ninja-build libbenchmark-dev debootstrap binutils-aarch64-linux-gnu curl ca-certificates file clang libclang-rt-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && { echo "system packages present"; exit 0; }
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "installed: ${missing[*]}"
