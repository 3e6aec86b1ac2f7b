#!/usr/bin/env bash
# Instructions per generated sample of end-to-end synthesis on aarch64, counted
# under qemu-aarch64 with QEMU's "insn" TCG plugin (no hardware counters here),
# for WaveRNN-896 dual-softmax at 95% sparsity (density 0.05), 4x4 and 16x1
# blocks, on the NEON path and on the scalar generic path (SPARSEWAVE_ISA).
#
#   per sample = (insns of an N-sample run - insns of a 1-frame run) / (N - hop)
#
# so loading, startup and google-benchmark overhead cancel. Each run is one
# unbatched synthesize() call (sparsewave_bench --kernels none
# --benchmark_min_time=1x). Reported against the floor: nonzero sample-loop
# MACs per sample / 4 float lanes; target <= 2x floor. Prints a Markdown table.
#
# Usage: bench/arm/insn_count.sh [--by-function] [--max-ratio R]
#   --by-function  also count per function (a small symbol-attributing plugin
#                  built here) and print the top functions per sample
#   --max-ratio R  exit 1 if a NEON row is above R x floor (default: report only)
# Environment: QEMU_CPU (default cortex-a53), INSN_SECONDS (the long run,
#   default 0.25 = 6000 samples), HIDDEN (896), DENSITY (0.05),
#   BLOCKS ("4x4 16x1"), ISAS ("neon generic"), PYTHON (python3), JOBS.
# Needs: qemu-user (the dynamic qemu-aarch64: qemu-user-static takes no
# plugins), gcc, libglib2.0-dev + pkg-config (installed here via apt when
# missing and running as root), the sparsewave Python package (writes the
# models), and bench/android/build.sh's toolchain. About 1 min once built.
set -euo pipefail
cd "$(dirname "$0")/../.."
PROJECT=$PWD
PYTHON=${PYTHON:-python3}
export QEMU_CPU=${QEMU_CPU:-cortex-a53}
SECONDS_LONG=${INSN_SECONDS:-0.25}
HIDDEN=${HIDDEN:-896}
DENSITY=${DENSITY:-0.05}
BLOCKS=${BLOCKS:-4x4 16x1}
ISAS=${ISAS:-neon generic}
BY_FUNCTION=0
MAX_RATIO=
while [ $# -gt 0 ]; do
  case "$1" in
    --by-function) BY_FUNCTION=1 ;;
    --max-ratio) MAX_RATIO=${2:?--max-ratio needs a value}; shift ;;
    --max-ratio=*) MAX_RATIO=${1#*=} ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "unknown argument '$1'" >&2; exit 1 ;;
  esac
  shift
done

QEMU_TARBALL_URL=http://deb.debian.org/debian/pool/main/q/qemu/qemu_7.2+dfsg.orig.tar.xz
QEMU_TARBALL_SHA256=91aca71520040edc40b8d437aa3004dae614f58e286cf653ee8996c07af2962f  # qemu_7.2+dfsg-7+deb12u18.dsc
WORK=$PROJECT/_ci/insn
mkdir -p "$WORK" "$PROJECT/_ci/downloads"
log() { printf '[insn-count %3ss] %s\n' "$SECONDS" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# --- tools -------------------------------------------------------------------
QEMU=$(command -v qemu-aarch64 || true)
[ -n "$QEMU" ] || die "qemu-aarch64 missing: apt-get install -y qemu-user"
qemu_version=$("$QEMU" --version | sed -n 's/^qemu-aarch64 version \([0-9]*\.[0-9]*\).*/\1/p')
[ "$qemu_version" = 7.2 ] ||
  log "warning: qemu-aarch64 is $qemu_version, the plugin is built from 7.2 sources (the plugin API must match)"
if ! pkg-config --exists glib-2.0 2>/dev/null; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    log "installing libglib2.0-dev pkg-config"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libglib2.0-dev pkg-config >/dev/null ||
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libglib2.0-dev pkg-config >/dev/null; }
  fi
  pkg-config --exists glib-2.0 || die "glib-2.0 development files missing: apt-get install -y libglib2.0-dev pkg-config"
fi

# --- the plugins ---------------------------------------------------------------
# insn.c and the plugin header from Debian's qemu source tarball (the same
# upstream release as the installed qemu-user).
src=$WORK/qemu-src
if [ ! -f "$src/tests/plugin/insn.c" ] || [ ! -f "$src/include/qemu/qemu-plugin.h" ]; then
  tarball=$PROJECT/_ci/downloads/qemu_7.2+dfsg.orig.tar.xz
  if [ ! -f "$tarball" ]; then
    log "downloading $QEMU_TARBALL_URL (23 MB)"
    curl -fsSL --retry 3 -o "$tarball.part" "$QEMU_TARBALL_URL" || die "download failed"
    mv "$tarball.part" "$tarball"
  fi
  echo "$QEMU_TARBALL_SHA256  $tarball" | sha256sum -c --quiet - || die "$tarball: sha256 mismatch; delete it"
  rm -rf "$src" && mkdir -p "$src"
  tar xJf "$tarball" -C "$src" --strip-components=1 qemu-7.2.0/tests/plugin/insn.c qemu-7.2.0/include/qemu/qemu-plugin.h
fi
GLIB_CFLAGS=$(pkg-config --cflags glib-2.0)
GLIB_LIBS=$(pkg-config --libs glib-2.0)
if [ ! -f "$WORK/libinsn.so" ] || [ "$src/tests/plugin/insn.c" -nt "$WORK/libinsn.so" ]; then
  log "building libinsn.so"
  # shellcheck disable=SC2086
  gcc -O2 -shared -fPIC -I"$src/include/qemu" $GLIB_CFLAGS "$src/tests/plugin/insn.c" -o "$WORK/libinsn.so" $GLIB_LIBS
fi
if [ "$BY_FUNCTION" = 1 ]; then
  log "building libsymcount.so"
  # shellcheck disable=SC2086
  gcc -O2 -shared -fPIC -I"$src/include/qemu" $GLIB_CFLAGS "$PROJECT/bench/arm/symcount_plugin.c" -o "$WORK/libsymcount.so" $GLIB_LIBS
fi

# --- the binary and the models -------------------------------------------------
log "bench/android/build.sh"
stripped=$(bash bench/android/build.sh | tail -n 1)
bin=$PROJECT/_ci/android/build/sparsewave_bench  # unstripped twin (same code, has symbols)
[ -x "$bin" ] || bin=$stripped
[ -x "$bin" ] || die "no sparsewave_bench binary"

models=()
for b in $BLOCKS; do
  m=$WORK/wavernn${HIDDEN}_d${DENSITY}_${b}.sw
  models+=("$m")
  [ -f "$m" ] && continue
  log "writing $m"
  "$PYTHON" -c "
from sparsewave.dual_softmax import write_random_dual_softmax
write_random_dual_softmax('$m', $HIDDEN, $DENSITY, tuple(int(v) for v in '$b'.split('x')))" ||
    die "cannot write $m (is the sparsewave package installed for $PYTHON?)"
done

# --- counting -----------------------------------------------------------------
results=$WORK/results.tsv
: >"$results"
count() {  # count <plugin> <isa> <model> <seconds> <logfile>
  local plugin=$1 isa=$2 model=$3 secs=$4 logf=$5
  if ! SPARSEWAVE_ISA=$isa "$QEMU" -plugin "$plugin" -d plugin "$bin" "$model" --kernels none \
      --seconds "$secs" --benchmark_min_time=1x --benchmark_filter='^e2e/' >"$logf" 2>&1; then
    tail -n 20 "$logf" >&2
    die "run failed: SPARSEWAVE_ISA=$isa $(basename "$bin") $model --seconds $secs (log $logf)"
  fi
  grep -q "^summary: e2e/$isa/unbatched/" "$logf" || die "no e2e summary in $logf"
}
for i in "${!models[@]}"; do
  model=${models[$i]}
  block=$(echo $BLOCKS | cut -d' ' -f$((i + 1)))
  for isa in $ISAS; do
    tag=$(basename "$model" .sw)_$isa
    log "counting $tag (QEMU_CPU=$QEMU_CPU; 1 frame and ${SECONDS_LONG}s)"
    count "$WORK/libinsn.so,inline=on" "$isa" "$model" 1e-9 "$WORK/$tag.short.log"
    count "$WORK/libinsn.so,inline=on" "$isa" "$model" "$SECONDS_LONG" "$WORK/$tag.long.log"
    if [ "$BY_FUNCTION" = 1 ]; then
      count "$WORK/libsymcount.so" "$isa" "$model" 1e-9 "$WORK/$tag.short.sym.log"
      count "$WORK/libsymcount.so" "$isa" "$model" "$SECONDS_LONG" "$WORK/$tag.long.sym.log"
    fi
    printf '%s\t%s\t%s\t%s\n' "$block" "$isa" "$WORK/$tag.short.log" "$WORK/$tag.long.log" >>"$results"
  done
done

# --- the table ----------------------------------------------------------------
"$PYTHON" "$PROJECT/bench/arm/insn_table.py" "$results" "$BY_FUNCTION" "${MAX_RATIO:-}" "$HIDDEN" "$DENSITY" "$QEMU_CPU"
