#!/usr/bin/env bash
# Runs the Python test suite on emulated arm64 Debian (bookworm, Python 3.11):
#   1. builds (or reuses) an arm64 root in _ci/arm64-root: debootstrap's first
#      stage only, then its .debs are unpacked with dpkg-deb -x (much faster
#      than the emulated second stage);
#   2. registers qemu-aarch64 with binfmt_misc so aarch64 ELFs run in chroot;
#   3. cross-builds the aarch64 wheel on the host (.ci/arm_wheel.sh), unless
#      WHEEL=/path/to/sparsewave-...-linux_aarch64.whl is given;
#   4. pip installs numpy, pytest and the wheel into a venv in the root and
#      runs `python -m pytest -q tests` once per emulated core (QEMU_CPU).
#
# Usage: .ci/arm_python_tests.sh              full run (needs root, network)
#        .ci/arm_python_tests.sh --root-only  only build the root, print its path
# Environment: ARM64_ROOT (default _ci/arm64-root), DEBIAN_MIRROR,
#              ARM_QEMU_CPUS (default "cortex-a53 neoverse-n1"), WHEEL.
# Safe to re-run: a complete root and its venv are reused, proc is unmounted
# on exit, and a half-built root is rebuilt.
set -euo pipefail
cd "$(dirname "$0")/.."
PROJECT=$PWD
mkdir -p _ci
ROOT=${ARM64_ROOT:-$PROJECT/_ci/arm64-root}
ROOT=$(realpath -m "$ROOT")
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
CPUS=${ARM_QEMU_CPUS:-cortex-a53 neoverse-n1}
SUITE=bookworm
INCLUDE=python3,python3-venv,libpython3.11-dev
MARKER=$ROOT/.sparsewave-root-ready
MARKER_TEXT="debootstrap --arch=arm64 --foreign --variant=minbase --include=$INCLUDE $SUITE $MIRROR"

log() { printf '[arm-python %3ss] %s\n' "$SECONDS" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap, chroot, mount)"
case "$ROOT" in /|/usr|/usr/*|/etc|/etc/*|/proc*|/sys*|/dev*) die "refusing ARM64_ROOT=$ROOT";; esac

# Mount points below ROOT (deepest first), from /proc/self/mounts.
mounts_below_root() {
  awk -v r="$ROOT" '$2 == r || index($2, r "/") == 1 { print $2 }' /proc/self/mounts | sort -r
}
unmount_all_below_root() {
  local m
  for m in $(mounts_below_root); do
    log "unmounting $m"
    umount "$m" || umount -l "$m"
  done
}

# One run at a time per root (the wheel script calls us with --root-only;
# SPARSEWAVE_ARM_ROOT_LOCKED tells a nested call that the lock is held).
if [ -z "${SPARSEWAVE_ARM_ROOT_LOCKED:-}" ]; then
  exec 9>"$ROOT.lock"
  flock -w 1200 9 || die "another run holds $ROOT.lock"
  export SPARSEWAVE_ARM_ROOT_LOCKED=1
fi

ensure_root() {
  if [ -f "$MARKER" ] && [ "$(cat "$MARKER")" = "$MARKER_TEXT" ]; then
    log "reusing arm64 root $ROOT"
    return
  fi
  command -v debootstrap >/dev/null || {
    log "installing debootstrap"
    apt-get install -y -q --no-install-recommends debootstrap >/dev/null ||
      { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends debootstrap >/dev/null; }
  }
  if [ -e "$ROOT" ]; then
    log "removing incomplete root $ROOT"
    unmount_all_below_root
    [ -z "$(mounts_below_root)" ] || die "still mounted below $ROOT; not deleting"
    rm -rf --one-file-system "$ROOT"
  fi
  log "debootstrap (first stage) $SUITE arm64 from $MIRROR"
  debootstrap --arch=arm64 --foreign --variant=minbase --include="$INCLUDE" \
    "$SUITE" "$ROOT" "$MIRROR" >"$PROJECT/_ci/arm64-debootstrap.log" 2>&1 ||
    { tail -n 20 "$PROJECT/_ci/arm64-debootstrap.log" >&2; die "debootstrap failed (log: _ci/arm64-debootstrap.log)"; }
  log "unpacking $(ls "$ROOT"/var/cache/apt/archives/*.deb | wc -l) packages with dpkg-deb -x"
  local f
  for f in "$ROOT"/var/cache/apt/archives/*.deb; do dpkg-deb -x "$f" "$ROOT"; done
  rm -f "$ROOT"/var/cache/apt/archives/*.deb
  # What the skipped second stage would have set up and Python/pip rely on.
  [ -s "$ROOT/etc/passwd" ] || cp "$ROOT/usr/share/base-passwd/passwd.master" "$ROOT/etc/passwd"
  [ -s "$ROOT/etc/group" ] || cp "$ROOT/usr/share/base-passwd/group.master" "$ROOT/etc/group"
  mkdir -p "$ROOT/tmp" "$ROOT/root" "$ROOT/proc" "$ROOT/etc/ssl/certs"
  chmod 1777 "$ROOT/tmp"
  [ -f "$ROOT/usr/include/python3.11/Python.h" ] || die "root has no Python headers"
  [ -x "$ROOT/usr/bin/python3.11" ] || die "root has no python3.11"
  printf '%s\n' "$MARKER_TEXT" >"$MARKER"
  log "arm64 root ready"
}

ensure_root
if [ "${1:-}" = "--root-only" ]; then
  echo "$ROOT"
  exit 0
fi
[ $# -eq 0 ] || die "unknown argument: $1 (usage: $0 [--root-only])"

# --- binfmt: let the kernel run aarch64 ELFs through qemu-aarch64-static ----
BINFMT=/proc/sys/fs/binfmt_misc
if [ ! -e "$BINFMT/register" ]; then
  log "mounting binfmt_misc"
  mount -t binfmt_misc binfmt_misc "$BINFMT"
fi
if [ -e "$BINFMT/qemu-aarch64" ]; then
  grep -qx enabled "$BINFMT/qemu-aarch64" || echo 1 >"$BINFMT/qemu-aarch64"
  log "qemu-aarch64 binfmt already registered"
else
  conf=/usr/lib/binfmt.d/qemu-aarch64.conf
  [ -f "$conf" ] || die "$conf missing: apt-get install -y qemu-user-static"
  cat "$conf" >"$BINFMT/register" 2>/dev/null || [ -e "$BINFMT/qemu-aarch64" ] ||
    die "could not register qemu-aarch64 with binfmt_misc"
  log "registered qemu-aarch64 binfmt"
fi
# The F flag makes the kernel open the (static) interpreter now, so chroot
# needs no qemu inside the root.
grep -q '^flags: .*F' "$BINFMT/qemu-aarch64" ||
  log "warning: qemu-aarch64 binfmt lacks the F flag; chroot may not find qemu"

# --- the wheel --------------------------------------------------------------
if [ -n "${WHEEL:-}" ]; then
  WHEEL=$(realpath "$WHEEL")
else
  log "cross-building the aarch64 wheel (.ci/arm_wheel.sh)"
  ARM64_ROOT=$ROOT bash .ci/arm_wheel.sh "$PROJECT/_ci/arm-wheel" | tee "$PROJECT/_ci/arm-wheel.log" >&2
  WHEEL=$(tail -n 1 "$PROJECT/_ci/arm-wheel.log")
fi
case "$WHEEL" in *-linux_aarch64.whl) ;; *) die "not an aarch64 wheel: $WHEEL";; esac
[ -f "$WHEEL" ] || die "wheel not found: $WHEEL"

# --- enter the root ---------------------------------------------------------
cleanup() { unmount_all_below_root; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
unmount_all_below_root            # stale mounts from a killed run
cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"
cp -L /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/ca-certificates.crt"
mount -t proc proc "$ROOT/proc"

# Clean environment for everything run inside; QEMU_CPU is read by the
# binfmt-launched qemu too (checked below through HWCAP).
CHROOT=$(command -v chroot) || die "chroot not found"
in_root() {
  local cpu=$1; shift
  env -i PATH=/opt/venv/bin:/usr/local/bin:/usr/bin:/bin HOME=/root LANG=C.UTF-8 \
    QEMU_CPU="$cpu" PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore PIP_NO_INPUT=1 \
    PYTHONDONTWRITEBYTECODE=1 "$CHROOT" "$ROOT" "$@"
}
[ "$(in_root cortex-a53 /usr/bin/uname -m)" = aarch64 ] || die "chroot does not run aarch64 binaries"

if [ ! -x "$ROOT/opt/venv/bin/python" ]; then
  log "creating venv /opt/venv"
  rm -rf "$ROOT/opt/venv"
  in_root cortex-a53 /usr/bin/python3 -m venv /opt/venv
fi
log "pip install numpy pytest + $(basename "$WHEEL")"
rm -rf "$ROOT/tmp/sparsewave-wheel"
mkdir -p "$ROOT/tmp/sparsewave-wheel"
cp "$WHEEL" "$ROOT/tmp/sparsewave-wheel/"
w=/tmp/sparsewave-wheel/$(basename "$WHEEL")
# With its dependencies first, then forced: a rebuilt wheel keeps its version.
# Not the [eval] extra: pesq and praat-parselmouth have no cp311 aarch64 wheels on the index
# (they would compile under emulation, Praat for hours); its tests skip with a reason here.
in_root cortex-a53 python -m pip install -q numpy pytest "$w[test]"
in_root cortex-a53 python -m pip install -q --force-reinstall --no-deps "$w"
in_root cortex-a53 python -m pip check >&2

rm -rf "$ROOT/opt/sparsewave-tests"
mkdir -p "$ROOT/opt/sparsewave-tests"
cp -r tests "$ROOT/opt/sparsewave-tests/tests"
find "$ROOT/opt/sparsewave-tests" -name __pycache__ -prune -exec rm -rf {} +

failed=()
run_pytest() {  # cpu: the suite under that emulated core, its own temp dir and log; prints the exit status
  local cpu=$1 rc
  set +e
  in_root "$cpu" /bin/sh -c "cd /opt/sparsewave-tests && exec python -m pytest -q -p no:cacheprovider --basetemp=/tmp/pytest-$cpu tests" \
    > "$PROJECT/_ci/arm-pytest-$cpu.log" 2>&1
  rc=$?
  set -e
  echo "$rc" > "$PROJECT/_ci/arm-pytest-$cpu.rc"
}
# Each emulated core's suite runs beside the others: qemu runs a mostly
# single-threaded pytest, so on a 2-core machine two suites take about the
# time of one (they were 19 and 22 minutes back to back).
pytest_cpus=()
for cpu in $CPUS; do
  log "=== QEMU_CPU=$cpu"
  info=$(in_root "$cpu" /bin/sh -c 'cd / && python -c "
import platform, sparsewave as s
f = s.cpu_features()
print(platform.machine(), s.isa(), \",\".join(s.available_isas()), int(f[\"dotprod\"]))"') ||
    { rc=$?; [ "$rc" -lt 128 ] || die "interrupted (exit $rc)"; failed+=("$cpu:import"); continue; }
  read -r machine isa avail dotprod <<<"$info"
  echo "QEMU_CPU=$cpu: machine=$machine isa=$isa available=$avail dotprod=$dotprod"
  # The best path: neon, plus the sdot int8 kernels (neon_dotprod) where HWCAP has them.
  want=neon
  [ "$dotprod" = 1 ] && want=neon_dotprod
  [ "$machine" = aarch64 ] && [ "$isa" = "$want" ] || { failed+=("$cpu:isa"); continue; }
  # Proof that QEMU_CPU reached the binfmt-launched qemu: HWCAP_ASIMDDP.
  case "$cpu" in
    cortex-a53) [ "$dotprod" = 0 ] || { log "QEMU_CPU ignored: dotprod on cortex-a53"; failed+=("$cpu:qemu_cpu"); } ;;
    neoverse-n1) [ "$dotprod" = 1 ] || { log "QEMU_CPU ignored: no dotprod on neoverse-n1"; failed+=("$cpu:qemu_cpu"); } ;;
  esac
  rm -f "$PROJECT/_ci/arm-pytest-$cpu.rc"
  run_pytest "$cpu" &
  pytest_cpus+=("$cpu")
done
wait
for cpu in "${pytest_cpus[@]}"; do
  log "=== pytest under QEMU_CPU=$cpu"
  cat "$PROJECT/_ci/arm-pytest-$cpu.log"
  rc=$(cat "$PROJECT/_ci/arm-pytest-$cpu.rc" 2>/dev/null || echo 255)
  if [ "$rc" -eq 5 ]; then log "pytest collected no tests ($cpu)"; rc=0; fi
  # 2: pytest interrupted or misused; >128: killed. Stop instead of going on.
  [ "$rc" -ne 2 ] && [ "$rc" -le 128 ] || die "pytest interrupted on $cpu (exit $rc)"
  [ "$rc" -eq 0 ] || { log "pytest failed on $cpu (exit $rc)"; failed+=("$cpu:pytest"); }
done

if [ ${#failed[@]} -gt 0 ]; then
  die "failed: ${failed[*]}"
fi
log "arm64 Python tests passed on: $CPUS"
