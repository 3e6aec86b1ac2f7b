#!/usr/bin/env bash
# Times Opus's and LPCNet's int8 block-sparse products next to our kernels, in
# one process on the same matrices (the harness, peer_kernels.cpp, says what
# and how; it is ours: no peer code is kept in the project).
#
#   bench/peers/run_peers.sh [--repeats=N] [--sample-ms=MS]
#
# Fetches, outside the source tree (SPARSEWAVE_PEERS_DIR, default
# ${TMPDIR:-/tmp}/sparsewave-peers), nothing of which is kept in the project:
#   Opus 1.5.2    Debian trixie's source package, by `apt-get source` with a
#                 private source list (bookworm's opus 1.3.1 has no dnn/);
#   LPCNet        github.com/xiph/LPCNet at a pinned commit (not packaged;
#                 LPCNET_GIT_URL names another clone source, e.g. a local mirror).
# Needs an x86-64 CPU with AVX2, network, apt-get + dpkg-dev, git, cmake, a C/C++ compiler.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=${SPARSEWAVE_PEERS_DIR:-${TMPDIR:-/tmp}/sparsewave-peers}
opus_version=1.5.2-2
lpcnet_commit=7dc99429e246cca614708b5aa4990d827bacce2c
mkdir -p "$work/src"

opus=$(ls -d "$work"/src/opus-1.5* 2>/dev/null | tail -n 1 || true)
if [ -z "$opus" ] || [ ! -f "$opus/dnn/vec_avx.h" ]; then
  # A source list of our own: the system's apt configuration is left alone.
  mkdir -p "$work/apt/lists/partial" "$work/apt/parts"
  cat > "$work/apt/parts/trixie-src.sources" <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  apt_opts=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$work/apt/parts"
            -o "Dir::State::Lists=$work/apt/lists" -o "Dir::Cache=$work/apt/cache" -o Debug::NoLocking=1)
  mkdir -p "$work/apt/cache"
  apt-get "${apt_opts[@]}" update
  # The version measured first; once trixie moves on, whatever 1.5.x it has.
  (cd "$work/src" && { apt-get "${apt_opts[@]}" source "opus=$opus_version" || apt-get "${apt_opts[@]}" source opus; })
  opus=$(ls -d "$work"/src/opus-1.5* | tail -n 1)
fi

lpcnet=$work/src/LPCNet
if [ ! -f "$lpcnet/src/vec_avx.h" ]; then
  rm -rf "$lpcnet"
  git clone --quiet "${LPCNET_GIT_URL:-https://github.com/xiph/LPCNet.git}" "$lpcnet"
fi
git -C "$lpcnet" -c advice.detachedHead=false checkout --quiet "$lpcnet_commit"

# Our engine (Release, as shipped) and the harness.
cmake -S "$root" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DSPARSEWAVE_PYTHON=OFF > "$work/cmake.log"
cmake --build "$work/build" --target sparsewave_core -j "${JOBS:-2}"
# Each peer's static inline kernel under a name peer_kernels.cpp links to (one
# file each: their headers define the same helper names).
cat > "$work/peer_opus.c" <<'END'
#include "opus_types.h"
#include "dnn/vec_avx.h"
void peer_opus_sparse_cgemv8x4(float *out, const signed char *w, const int *idx, const float *scale, int rows,
                               int cols, const float *x) {
  sparse_cgemv8x4(out, (const opus_int8 *)w, idx, scale, rows, cols, x);
}
END
cat > "$work/peer_lpcnet.c" <<'END'
#include "vec_avx.h"
void peer_lpcnet_sparse_sgemv_accum8x4(float *out, const signed char *w, int rows, int cols, const int *idx,
                                       const float *x) {
  sparse_sgemv_accum8x4(out, w, rows, cols, idx, x);
}
END
cc_flags=(-O2 -mavx2 -mfma)  # the peers' AVX2 paths
${CC:-cc} "${cc_flags[@]}" -c "$work/peer_opus.c" -I"$opus" -I"$opus/include" -I"$opus/celt" -o "$work/peer_opus.o"
${CC:-cc} "${cc_flags[@]}" -c "$work/peer_lpcnet.c" -I"$lpcnet/src" -o "$work/peer_lpcnet.o"
${CXX:-c++} -O2 -std=c++17 "$here/peer_kernels.cpp" -I"$root/cpp" "$work/peer_opus.o" "$work/peer_lpcnet.o" \
  "$work/build/libsparsewave_core.a" -lpthread -o "$work/peer_kernels"

echo "$(basename "$opus") (Debian source), LPCNet $lpcnet_commit; $(${CC:-cc} --version | head -1)"
"$work/peer_kernels" "$@"
