#!/usr/bin/env bash
# Builds the static aarch64 sparsewave_bench (bench/android/build.sh) and runs
# it under qemu-aarch64 (QEMU_CPU=cortex-a53: plain armv8-a NEON) on a small
# random dual-softmax model, for a fixed number of iterations:
#   1. kernels (spmv, 768x256, d0.05, 4x4 and 16x1, generic and neon) and
#      end-to-end unbatched synthesis on the NEON path;
#   2. batched synthesis on 2 threads (3 folds), JSON output (checked to parse);
#   3. end-to-end on the generic path, forced through SPARSEWAVE_ISA.
# Fails if the build or a run fails, or an expected case/summary is missing.
# Needs the sparsewave Python package on the host (to write the model).
# About 1 min with google-benchmark already built, 1.5-2 min from nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
export QEMU_CPU=${QEMU_CPU:-cortex-a53}
log() { printf '[arm-bench %3ss] %s\n' "$SECONDS" "$*"; }
die() { log "ERROR: $*"; exit 1; }

command -v qemu-aarch64 >/dev/null || die "qemu-aarch64 missing: apt-get install -y qemu-user"

log "bench/android/build.sh"
bin=$(bash bench/android/build.sh | tail -n 1)
[ -x "$bin" ] || die "build.sh did not print an executable path (got '$bin')"

model=_ci/small.sw
"$PYTHON" -c "from sparsewave.dual_softmax import write_random_dual_softmax; write_random_dual_softmax('$model', 64, 0.1, (4,4))" ||
  die "cannot write $model (is the sparsewave package installed for $PYTHON?)"

out=_ci/arm-bench.log
: >"$out"
run() {  # run the binary under qemu; output to the console and the log
  log "QEMU_CPU=$QEMU_CPU qemu-aarch64 $(basename "$bin") $*"
  set +e
  qemu-aarch64 "$bin" "$@" 2>&1 | tee -a "$out"
  local rc=${PIPESTATUS[0]}
  set -e
  [ "$rc" -eq 0 ] || die "sparsewave_bench exited with $rc"
}
expect() { grep -qE "$1" "$out" || die "expected output matching '$1' (log: $out)"; }

# 1. kernels + unbatched e2e (NEON)
run "$model" --seconds 0.25 --benchmark_min_time=3x \
  --benchmark_filter='^(e2e/|spmv/(generic|neon)/(4x4|16x1)/768x256/d0.05$)'
expect 'kernel paths on this CPU: generic,neon \(e2e uses neon\); aarch64 dotprod=0'
for c in generic/4x4 generic/16x1 neon/4x4 neon/16x1; do expect "^spmv/$c/768x256/d0.05 "; done
expect '^summary: e2e/neon/unbatched/0.25s .* samples=6000 .*samples/s=[0-9.]+ RTF=[0-9.]+'

# 2. batched, 2 threads, 3 folds (0.5 s each); JSON must parse
json=_ci/arm-bench.json
log "QEMU_CPU=$QEMU_CPU qemu-aarch64 $(basename "$bin") $model --batched --threads 2 --seconds 1.25 --kernels none --benchmark_format=json"
qemu-aarch64 "$bin" "$model" --batched --threads 2 --seconds 1.25 --kernels none --benchmark_min_time=1x \
  --benchmark_format=json >"$json" 2>>"$out" || die "batched run failed (log: $out)"
"$PYTHON" - "$json" <<'EOF' || die "bad JSON from the batched run ($json)"
import json, sys
d = json.load(open(sys.argv[1]))
b = [x for x in d["benchmarks"] if x["name"].startswith("e2e/neon/batched/t2/1.25s")]
assert b and "error_occurred" not in b[0] and b[0]["samples"] == 30000, b
print(f"  batched t2: {b[0]['samples/s']:.0f} samples/s, RTF {b[0]['RTF']:.3f}")
EOF
expect '^summary: e2e/neon/batched/t2/1.25s .*threads=2 '

# 3. the generic path for e2e, forced through the environment
log "SPARSEWAVE_ISA=generic ..."
SPARSEWAVE_ISA=generic run "$model" --seconds 0.25 --kernels none --benchmark_min_time=1x
expect '^summary: e2e/generic/unbatched/0.25s '

log "arm bench OK ($bin)"
