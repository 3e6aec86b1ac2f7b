#!/usr/bin/env bash
# Instructions per generated sample of end-to-end synthesis on aarch64, counted
# under qemu-aarch64 with QEMU's "insn" TCG plugin (no hardware counters here),
# for WaveRNN-896 dual-softmax at 95% sparsity (density 0.05): float32 4x4 and
# 16x1 blocks, int8 8x4 and 4x4 (the same random model files loaded with
# --weights int8), on the best NEON path the emulated core runs (neon_dotprod
# on neoverse-n1, neon on cortex-a53) and on the scalar generic path.
#
#   per sample = (insns of an N-sample run - insns of a 1-frame run) / (N - hop)
#
# so loading, startup and google-benchmark overhead cancel. Each run is one
# unbatched synthesize() call (sparsewave_bench --kernels none
# --benchmark_min_time=1x). Reported against the floor: nonzero sample-loop
# MACs per sample / 4 float32 lanes (one fmla), or / 16 for int8 (one sdot),
# and against float32 16x1 on the same path and core. Prints Markdown tables.
#
# Usage: bench/arm/insn_count.sh [--by-function] [--products] [--max-ratio R]
#   --by-function  also count per function (a small symbol-attributing plugin
#                  built here): the spmv kernels alone and the quantizer per
#                  sample, and the top functions
#   --products     also count one product of the recurrent matrix R
#                  (3*HIDDEN x HIDDEN at DENSITY, sparsewave_bench's kernel
#                  case; int8 includes quantizing x), by differencing two
#                  fixed iteration counts
#   --max-ratio R  exit 1 if a NEON row is above R x floor (default: report only)
# Environment: QEMU_CPUS (default: QEMU_CPU, else cortex-a53; e.g.
#   "neoverse-n1 cortex-a53"), INSN_SECONDS (the long run, default 0.25 = 6000
#   samples), HIDDEN (896), DENSITY (0.05), BLOCKS (block[:int8] list, default
#   "4x4 16x1 8x4:int8 4x4:int8"), ISAS ("best generic"; best = the
#   dispatcher's choice, else a SPARSEWAVE_ISA name), PYTHON (python3), JOBS,
#   BIN (count this aarch64 sparsewave_bench instead of building one with
#   bench/android/build.sh), INSN_WORK (work folder, default _ci/insn).
# Needs: qemu-user (the dynamic qemu-aarch64: qemu-user-static takes no
# plugins), gcc, libglib2.0-dev + pkg-config (installed here via apt when
# missing and running as root), the sparsewave Python package (writes the
# models), and bench/android/build.sh's toolchain. A few minutes once built.
set -euo pipefail
cd "$(dirname "$0")/../.."
PROJECT=$PWD
PYTHON=${PYTHON:-python3}
QEMU_CPUS=${QEMU_CPUS:-${QEMU_CPU:-cortex-a53}}
SECONDS_LONG=${INSN_SECONDS:-0.25}
HIDDEN=${HIDDEN:-896}
DENSITY=${DENSITY:-0.05}
BLOCKS=${BLOCKS:-4x4 16x1 8x4:int8 4x4:int8}
ISAS=${ISAS:-best generic}
BY_FUNCTION=0
PRODUCTS=0
MAX_RATIO=
while [ $# -gt 0 ]; do
  case "$1" in
    --by-function) BY_FUNCTION=1 ;;
    --products) PRODUCTS=1 ;;
    --max-ratio) MAX_RATIO=${2:?--max-ratio needs a value}; shift ;;
    --max-ratio=*) MAX_RATIO=${1#*=} ;;
    -h|--help) sed -n '2,36p' "$0"; exit 0 ;;
    *) echo "unknown argument '$1'" >&2; exit 1 ;;
  esac
  shift
done

QEMU_TARBALL_URL=http://deb.debian.org/debian/pool/main/q/qemu/qemu_7.2+dfsg.orig.tar.xz
QEMU_TARBALL_SHA256=91aca71520040edc40b8d437aa3004dae614f58e286cf653ee8996c07af2962f  # qemu_7.2+dfsg-7+deb12u18.dsc
WORK=$(realpath -m "${INSN_WORK:-$PROJECT/_ci/insn}")
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
if [ -n "${BIN:-}" ]; then
  bin=$(realpath "$BIN")
else
  log "bench/android/build.sh"
  stripped=$(bash bench/android/build.sh | tail -n 1)
  bin=$PROJECT/_ci/android/build/sparsewave_bench  # unstripped twin (same code, has symbols)
  [ -x "$bin" ] || bin=$stripped
fi
[ -x "$bin" ] || die "no sparsewave_bench binary"

declare -A model_of=()  # block shape -> model file (int8 loads a float32 file with --weights int8)
for entry in $BLOCKS; do
  b=${entry%%:*}
  m=$WORK/wavernn${HIDDEN}_d${DENSITY}_${b}.sw
  model_of[$b]=$m
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
run_qemu() {  # run_qemu <cpu> <isa> <plugin> <logfile> <bench args...>: one run under the plugin
  local cpu=$1 isa=$2 plugin=$3 logf=$4
  shift 4
  local isa_env=(SPARSEWAVE_ISA="$isa")
  [ "$isa" = best ] && isa_env=()
  if ! env -u SPARSEWAVE_ISA QEMU_CPU="$cpu" "${isa_env[@]}" "$QEMU" -plugin "$plugin" -d plugin "$bin" "$@" >"$logf" 2>&1; then
    tail -n 20 "$logf" >&2
    die "run failed: QEMU_CPU=$cpu SPARSEWAVE_ISA=$isa $(basename "$bin") $* (log $logf)"
  fi
}
count() {  # count <cpu> <plugin> <isa> <model> <weights> <seconds> <logfile>
  local cpu=$1 plugin=$2 isa=$3 model=$4 weights=$5 secs=$6 logf=$7
  run_qemu "$cpu" "$isa" "$plugin" "$logf" "$model" --weights "$weights" --kernels none \
    --seconds "$secs" --benchmark_min_time=1x --benchmark_filter='^e2e/'
  grep -q "^summary: e2e/.*/unbatched/" "$logf" || die "no e2e summary in $logf"
}
for cpu in $QEMU_CPUS; do
  for entry in $BLOCKS; do
    block=${entry%%:*}
    weights=float32
    [ "$entry" != "$block" ] && weights=${entry#*:}
    model=${model_of[$block]}
    for isa in $ISAS; do
      tag=${cpu}_$(basename "$model" .sw)_${weights}_$isa
      log "counting $tag (1 frame and ${SECONDS_LONG}s)"
      count "$cpu" "$WORK/libinsn.so,inline=on" "$isa" "$model" "$weights" 1e-9 "$WORK/$tag.short.log"
      count "$cpu" "$WORK/libinsn.so,inline=on" "$isa" "$model" "$weights" "$SECONDS_LONG" "$WORK/$tag.long.log"
      if [ "$BY_FUNCTION" = 1 ]; then
        count "$cpu" "$WORK/libsymcount.so" "$isa" "$model" "$weights" 1e-9 "$WORK/$tag.short.sym.log"
        count "$cpu" "$WORK/libsymcount.so" "$isa" "$model" "$weights" "$SECONDS_LONG" "$WORK/$tag.long.sym.log"
      fi
      printf 'loop\t%s\t%s\t%s\t%s\t%s\t%s\n' "$cpu" "$block" "$weights" "$isa" \
        "$WORK/$tag.short.log" "$WORK/$tag.long.log" >>"$results"
    done
  done
  if [ "$PRODUCTS" = 1 ]; then
    # One product of R: sparsewave_bench's kernel case at the same shape and
    # density on the path the dispatcher picks here (its name is in the e2e
    # logs); the exact MACs come from the JSON output.
    best=$(sed -n 's/^summary: e2e\/\([a-z0-9_]*\)\/.*/\1/p' "$(grep -l "^summary" "$WORK/${cpu}_"*_best.short.log | head -n 1)")
    [ -n "$best" ] || die "--products needs ISAS to include best"
    shape=$((3 * HIDDEN))x$HIDDEN
    for entry in $BLOCKS; do
      block=${entry%%:*}
      prefix=spmv
      [ "$entry" != "$block" ] && prefix=spmv_i8
      tag=${cpu}_product_${prefix}_${block}
      log "counting $tag on $best (100 and 300 products)"
      for n in 100 300; do
        run_qemu "$cpu" best "$WORK/libinsn.so,inline=on" "$WORK/$tag.$n.log" --kernels spmv \
          --benchmark_filter="^$prefix/$best/$block/$shape/d$DENSITY\$" --benchmark_min_time=${n}x \
          --benchmark_out="$WORK/$tag.$n.json" --benchmark_out_format=json
        grep -q '"MACs"' "$WORK/$tag.$n.json" || die "no $prefix/$best/$block/$shape/d$DENSITY case (see $WORK/$tag.$n.log)"
      done
      printf 'product\t%s\t%s\t%s\t%s\t%s\t%s\n' "$cpu" "$block" "$prefix" "$best" "$WORK/$tag.100" \
        "$WORK/$tag.300" >>"$results"
    done
  fi
done

# --- the table ----------------------------------------------------------------
"$PYTHON" "$PROJECT/bench/arm/insn_table.py" "$results" "$BY_FUNCTION" "${MAX_RATIO:-}" "$HIDDEN" "$DENSITY"
