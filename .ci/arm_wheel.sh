#!/usr/bin/env bash
# Cross-builds the aarch64 (linux_aarch64, CPython 3.11) wheel on the x86 host:
# scikit-build-core + cmake/toolchains/aarch64-linux-gnu.cmake, with the
# Python 3.11 headers taken from the arm64 Debian root that
# .ci/arm_python_tests.sh builds (built here on first use, then reused).
#
# Usage: .ci/arm_wheel.sh [OUTDIR]     (default OUTDIR: _ci/arm-wheel)
# Environment: PYTHON (host CPython 3.11, default python3),
#              ARM64_ROOT (default _ci/arm64-root).
# The last line printed is the absolute path of the wheel.
set -euo pipefail
cd "$(dirname "$0")/.."
PROJECT=$PWD
OUTDIR=${1:-$PROJECT/_ci/arm-wheel}
PYTHON=${PYTHON:-python3}
ROOT=$(realpath -m "${ARM64_ROOT:-$PROJECT/_ci/arm64-root}")
EXT_SUFFIX=.cpython-311-aarch64-linux-gnu.so
BUILD_DIR=$PROJECT/_ci/arm-wheel-build
PYINC=$PROJECT/_ci/arm64-pyinc

log() { printf '[arm-wheel %3ss] %s\n' "$SECONDS" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# The wheel's cp311 tag comes from the host interpreter, so it must be 3.11
# (bookworm's Python).
"$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11) or sys.implementation.name != "cpython")' ||
  die "$PYTHON is not CPython 3.11 (set PYTHON=python3.11)"
command -v aarch64-linux-gnu-g++ >/dev/null ||
  die "aarch64-linux-gnu-g++ missing: apt-get install -y g++-aarch64-linux-gnu"

# Host build tools (no build isolation).
if ! "$PYTHON" -c 'import scikit_build_core, pybind11, cmake, ninja' 2>/dev/null; then
  log "pip installing scikit-build-core pybind11 cmake ninja"
  "$PYTHON" -m pip install -q "scikit-build-core>=0.10" "pybind11>=2.12" cmake ninja
fi

# Python headers of the target: from the arm64 root.
if [ ! -f "$ROOT/usr/include/aarch64-linux-gnu/python3.11/pyconfig.h" ]; then
  log "no arm64 root at $ROOT: building it (.ci/arm_python_tests.sh --root-only)"
  ARM64_ROOT=$ROOT bash .ci/arm_python_tests.sh --root-only >&2
fi
# Debian's usr/include/python3.11/pyconfig.h only dispatches to
# <aarch64-linux-gnu/python3.11/pyconfig.h>, which the cross compiler cannot
# see; put the real one in its place in a host copy.
rm -rf "$PYINC"
mkdir -p "$PYINC"
cp -a "$ROOT/usr/include/python3.11" "$PYINC/python3.11"
cp "$ROOT/usr/include/aarch64-linux-gnu/python3.11/pyconfig.h" "$PYINC/python3.11/pyconfig.h"

# Build into a fresh folder so the printed wheel is this build's.
tmp=$(mktemp -d "$PROJECT/_ci/arm-wheel-tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
log "pip wheel --no-build-isolation (aarch64 cross build, build dir $BUILD_DIR)"
_PYTHON_HOST_PLATFORM=linux-aarch64 \
CMAKE_TOOLCHAIN_FILE=$PROJECT/cmake/toolchains/aarch64-linux-gnu.cmake \
"$PYTHON" -m pip wheel --no-build-isolation --no-deps -q -w "$tmp" \
  --config-settings=build-dir="$BUILD_DIR" \
  --config-settings=cmake.define.CMAKE_TOOLCHAIN_FILE="$PROJECT/cmake/toolchains/aarch64-linux-gnu.cmake" \
  --config-settings=cmake.define.Python_INCLUDE_DIR="$PYINC/python3.11" \
  --config-settings=cmake.define.PYTHON_MODULE_EXTENSION="$EXT_SUFFIX" \
  --config-settings=cmake.define.pybind11_DIR="$("$PYTHON" -m pybind11 --cmakedir)" \
  "$PROJECT" >&2

shopt -s nullglob
wheels=("$tmp"/*.whl)
[ ${#wheels[@]} -eq 1 ] || die "expected one wheel, got: ${wheels[*]:-none}"
whl=${wheels[0]}
name=$(basename "$whl")

# --- checks: tag, contents, architecture -----------------------------------
case "$name" in
  sparsewave-*-cp311-cp311-linux_aarch64.whl) ;;
  *) die "wrong wheel tag: $name (want cp311-cp311-linux_aarch64)";;
esac
# zip access through the host Python, so unzip is optional.
zipcat() { "$PYTHON" -c 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); n = [f for f in z.namelist() if f.endswith(sys.argv[2])]; sys.stdout.write("".join(z.read(f).decode() for f in n) if n else "")' "$@"; }
zipnames() { "$PYTHON" -c 'import sys, zipfile; print("\n".join(zipfile.ZipFile(sys.argv[1]).namelist()))' "$1"; }
wheel_meta=$(zipcat "$whl" .dist-info/WHEEL)
grep -qx 'Tag: cp311-cp311-linux_aarch64' <<<"$wheel_meta" || die "WHEEL metadata has the wrong Tag"
if command -v unzip >/dev/null; then unzip -l "$whl" >&2; else "$PYTHON" -m zipfile -l "$whl" >&2; fi
sos=$(zipnames "$whl" | grep '\.so$' || true)
[ "$sos" = "sparsewave/_core$EXT_SUFFIX" ] || die "unexpected extension modules in wheel: ${sos:-none}"
"$PYTHON" -m zipfile -e "$whl" "$tmp/x"
aarch64-linux-gnu-readelf -h "$tmp/x/$sos" | grep -q 'Machine:.*AArch64' || die "$sos is not an AArch64 ELF"
if aarch64-linux-gnu-readelf -d "$tmp/x/$sos" | grep -q 'NEEDED.*libpython'; then
  die "$sos links libpython (extension modules must not)"
fi
log "ok: $sos is $(aarch64-linux-gnu-readelf -h "$tmp/x/$sos" | sed -n 's/.*Machine: *//p')"

mkdir -p "$OUTDIR"
OUTDIR=$(realpath "$OUTDIR")
mv -f "$whl" "$OUTDIR/$name"
echo "$OUTDIR/$name"
