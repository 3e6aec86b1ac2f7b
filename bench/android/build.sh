#!/usr/bin/env bash
# Cross-compiles sparsewave_bench (bench/bench_main.cpp: kernel microbenchmarks
# + end-to-end synthesis) as a static aarch64 executable that runs on arm64
# Linux boards and, pushed with adb, on Android (docs/android.md).
#
# Usage: bench/android/build.sh [OUTDIR]        (default OUTDIR: _ci/android)
#
# Default toolchain: Debian's aarch64-linux-gnu-g++ through
# cmake/toolchains/aarch64-linux-gnu.cmake (a static glibc executable; it runs
# under qemu-aarch64 and on Android). With ANDROID_NDK=<ndk dir> set, the NDK's
# build/cmake/android.toolchain.cmake (clang, bionic, ANDROID_ABI=arm64-v8a,
# ANDROID_PLATFORM=${ANDROID_PLATFORM:-android-24}) is used instead.
#
# google-benchmark 1.9.1 is built from Debian's source tarball (downloaded
# once into _ci/downloads, sha256-checked) with the same toolchain, static,
# and installed into a prefix under the build folder that the sparsewave
# configure step adds to CMAKE_FIND_ROOT_PATH.
#
# Environment: JOBS (default 2), ANDROID_NDK, ANDROID_PLATFORM,
#              BENCHMARK_TARBALL (use this local tarball instead of downloading).
# Build logs: <build root>/build.log. The last line printed is the absolute
# path of the stripped binary.
set -euo pipefail
cd "$(dirname "$0")/../.."
PROJECT=$PWD
JOBS=${JOBS:-2}

BENCHMARK_VERSION=1.9.1
BENCHMARK_URL=http://deb.debian.org/debian/pool/main/b/benchmark/benchmark_${BENCHMARK_VERSION}.orig.tar.gz
BENCHMARK_SHA256=32131c08ee31eeff2c8968d7e874f3cb648034377dfc32a4c377fa8796d84981  # from benchmark_1.9.1-1.dsc

if [ -n "${ANDROID_NDK:-}" ]; then
  FLAVOUR=ndk
  NDK_TOOLCHAIN=$ANDROID_NDK/build/cmake/android.toolchain.cmake
  [ -f "$NDK_TOOLCHAIN" ] || { echo "ANDROID_NDK=$ANDROID_NDK has no build/cmake/android.toolchain.cmake" >&2; exit 1; }
  TOOLCHAIN_ARGS=(-DCMAKE_TOOLCHAIN_FILE="$NDK_TOOLCHAIN" -DANDROID_ABI=arm64-v8a
                  -DANDROID_PLATFORM="${ANDROID_PLATFORM:-android-24}")
  BUILD_ROOT=$PROJECT/_ci/android-ndk
else
  FLAVOUR=gnu
  TOOLCHAIN_ARGS=(-DCMAKE_TOOLCHAIN_FILE="$PROJECT/cmake/toolchains/aarch64-linux-gnu.cmake")
  BUILD_ROOT=$PROJECT/_ci/android
fi
OUTDIR=$(realpath -m "${1:-$BUILD_ROOT}")
PREFIX=$BUILD_ROOT/benchmark-$BENCHMARK_VERSION
LOG=$BUILD_ROOT/build.log

log() { printf '[android-build %3ss] %s\n' "$SECONDS" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
run_logged() {  # run a command, its output into the log; show the log's tail on failure
  if ! "$@" >>"$LOG" 2>&1; then
    tail -n 40 "$LOG" >&2
    die "failed: $* (full log: $LOG)"
  fi
}

command -v cmake >/dev/null || die "cmake missing"
if [ "$FLAVOUR" = gnu ]; then
  command -v aarch64-linux-gnu-g++ >/dev/null ||
    die "aarch64-linux-gnu-g++ missing: apt-get install -y g++-aarch64-linux-gnu"
fi
GENERATOR=(-G "Unix Makefiles")
command -v ninja >/dev/null && GENERATOR=(-G Ninja)

mkdir -p "$BUILD_ROOT" "$PROJECT/_ci/downloads" "$OUTDIR"
: >"$LOG"

# 1. google-benchmark, static, for the target (once; reused while the stamp
#    records the same version, toolchain and tarball hash).
stamp="$BENCHMARK_VERSION $FLAVOUR ${ANDROID_PLATFORM:-} $BENCHMARK_SHA256"
if [ "$(cat "$PREFIX/.sparsewave-stamp" 2>/dev/null)" != "$stamp" ]; then
  tarball=${BENCHMARK_TARBALL:-$PROJECT/_ci/downloads/benchmark_${BENCHMARK_VERSION}.orig.tar.gz}
  if [ ! -f "$tarball" ]; then
    log "downloading $BENCHMARK_URL"
    if command -v curl >/dev/null; then
      curl -fsSL --retry 3 -o "$tarball.part" "$BENCHMARK_URL" || die "download failed: $BENCHMARK_URL"
    else
      wget -q -O "$tarball.part" "$BENCHMARK_URL" || die "download failed: $BENCHMARK_URL"
    fi
    mv "$tarball.part" "$tarball"
  fi
  echo "$BENCHMARK_SHA256  $tarball" | sha256sum -c --quiet - ||
    die "$tarball: sha256 mismatch (expected $BENCHMARK_SHA256); delete it to download again"
  log "building google-benchmark $BENCHMARK_VERSION ($FLAVOUR toolchain) into $PREFIX"
  rm -rf "$BUILD_ROOT/benchmark-src" "$BUILD_ROOT/benchmark-build" "$PREFIX"
  mkdir -p "$BUILD_ROOT/benchmark-src"
  tar xzf "$tarball" -C "$BUILD_ROOT/benchmark-src" --strip-components=1
  run_logged cmake -S "$BUILD_ROOT/benchmark-src" -B "$BUILD_ROOT/benchmark-build" "${GENERATOR[@]}" \
    "${TOOLCHAIN_ARGS[@]}" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$PREFIX" \
    -DCMAKE_INSTALL_LIBDIR=lib -DBENCHMARK_ENABLE_TESTING=OFF -DBENCHMARK_ENABLE_GTEST_TESTS=OFF \
    -DBENCHMARK_ENABLE_WERROR=OFF -DBENCHMARK_ENABLE_LIBPFM=OFF -DBUILD_SHARED_LIBS=OFF
  run_logged cmake --build "$BUILD_ROOT/benchmark-build" -j "$JOBS"
  run_logged cmake --install "$BUILD_ROOT/benchmark-build"
  echo "$stamp" >"$PREFIX/.sparsewave-stamp"
else
  log "google-benchmark $BENCHMARK_VERSION already built in $PREFIX"
fi
[ -f "$PREFIX/lib/cmake/benchmark/benchmarkConfig.cmake" ] || die "no benchmarkConfig.cmake under $PREFIX"

# 2. sparsewave_bench, static. The gnu toolchain file appends
#    SPARSEWAVE_AARCH64_PREFIXES to CMAKE_FIND_ROOT_PATH; the NDK's toolchain
#    file appends to a CMAKE_FIND_ROOT_PATH given on the command line. Either
#    way find_package(benchmark) then sees the prefix (benchmark_DIR as well,
#    for toolchain files that do neither).
BUILD=$BUILD_ROOT/build
log "configuring and building sparsewave_bench (build dir $BUILD)"
if [ "$FLAVOUR" = gnu ]; then
  PREFIX_ARGS=(-DSPARSEWAVE_AARCH64_PREFIXES="$PREFIX")
else
  PREFIX_ARGS=(-DCMAKE_FIND_ROOT_PATH="$PREFIX")
fi
run_logged cmake -S "$PROJECT" -B "$BUILD" "${GENERATOR[@]}" "${TOOLCHAIN_ARGS[@]}" "${PREFIX_ARGS[@]}" \
  -Dbenchmark_DIR="$PREFIX/lib/cmake/benchmark" -DCMAKE_BUILD_TYPE=Release \
  -DSPARSEWAVE_BENCH=ON -DSPARSEWAVE_STATIC_EXE=ON -DSPARSEWAVE_TESTS=OFF -DSPARSEWAVE_PYTHON=OFF
run_logged cmake --build "$BUILD" -j "$JOBS" --target sparsewave_bench

# 3. Check it is a static AArch64 executable, then ship a stripped copy.
cache_tool() { sed -n "s/^$1:FILEPATH=//p" "$BUILD/CMakeCache.txt" | head -n1; }
STRIP=$(cache_tool CMAKE_STRIP)
READELF=$(cache_tool CMAKE_READELF)
[ -n "$READELF" ] && [ -x "$READELF" ] || READELF=$(command -v aarch64-linux-gnu-readelf || command -v llvm-readelf || true)
bin=$BUILD/sparsewave_bench
[ -f "$bin" ] || die "$bin was not built"
if [ -n "$READELF" ]; then
  "$READELF" -h "$bin" | grep -q 'AArch64' || die "$bin is not an AArch64 executable"
  if "$READELF" -l "$bin" | grep -q 'INTERP'; then die "$bin is dynamically linked (expected -static)"; fi
else
  log "no readelf found: skipping the AArch64/static check"
fi
out=$OUTDIR/sparsewave_bench
cp "$bin" "$out.tmp"
if [ -n "$STRIP" ] && [ -x "$STRIP" ]; then "$STRIP" "$out.tmp"; fi
mv "$out.tmp" "$out"
log "built $(du -h "$out" | cut -f1) static aarch64 binary ($FLAVOUR toolchain); unstripped: $bin"
echo "$out"
