#!/usr/bin/env bash
# Cross-compiles the C++ core and its tests for aarch64 and runs them under
# qemu-aarch64 on two emulated cores (cortex-a53: plain armv8-a NEON;
# neoverse-n1: adds dotprod/fp16), checking NEON against the reference.
set -euo pipefail
cd "$(dirname "$0")/.."
build=_ci/aarch64
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_TOOLCHAIN_FILE="$PWD/cmake/toolchains/aarch64-linux-gnu.cmake" \
  -DSPARSEWAVE_TESTS=ON >/dev/null
cmake --build "$build" -j "${JOBS:-2}"
aarch64-linux-gnu-readelf -h "$build/test_kernels" | grep -q AArch64 || { echo "not an aarch64 binary"; exit 1; }
ctest --test-dir "$build" --output-on-failure
