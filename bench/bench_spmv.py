"""One-thread matrix-vector benchmark: sparsewave vs numpy dense.

What is measured
----------------
For each WaveRNN weight shape (2688x896, 3072x1024, 768x256), density (1.0,
0.1, 0.05, 0.03) and kernel (float32 4x4 and 16x1 blocks, int8 8x4 and 4x4;
``--dtypes`` adds float16) a random block-sparse float32 matrix ``W`` is built
(each block kept with probability = density, fixed seed), stored in the
kernel's dtype, and three things are timed on the same machine, in the same
process:

* ours      ``BlockSparseMatrix.matvec(x, out=out)`` at the best ISA (or every
            ISA with ``--all-isas``): the public Python API, so the pybind11
            call and argument checks (~1 us) are included, and for int8 the
            quantization of x that every int8 product does;
* numpy     ``W @ x`` on the same matrix stored dense in float32 (run as
            ``np.matmul(W, x, out=y)``, i.e. without allocating the result,
            which if anything favours numpy);
* dense-eq  our own kernel (same block and dtype) on a density-1.0 *square*
            matrix with about the same number of stored weights (side =
            round(sqrt(nnz)/16)*16), to compare sparse vs dense GFLOP/s at
            equal nonzero count.

How
---
Each sample times a burst of back-to-back calls (burst length calibrated so a
sample lasts about ``--sample-ms``) with ``time.perf_counter_ns`` and divides
by the burst length. The three measurements are *interleaved*: every repeat
takes one sample of each (order alternating ABC / CBA), so slow periods of a
noisy machine hit all of them alike. Reported numbers are medians over
``--repeats`` samples. Effective GFLOP/s = 2 * stored weights / time (padding
inside stored blocks counts; none of the default shapes needs padding).

Threads: numpy's BLAS would otherwise use every core, so this script sets
OPENBLAS_NUM_THREADS, OMP_NUM_THREADS and MKL_NUM_THREADS (and a few
siblings) to 1 in ``os.environ`` *before importing numpy* -- BLAS libraries
read them only when they load. Import this file before anything imports
numpy, or run it as a script (the normal case). Our kernels are
single-threaded already.

Targets (headline case 2688x896 at density 0.05, one thread): ours >= 20x
faster than numpy dense, and sparse GFLOP/s >= 80% of our own dense kernel's
at equal nonzero count. Both are checked and printed, per block shape.

Usage::

    python bench/bench_spmv.py                 # full table, best ISA
    python bench/bench_spmv.py --quick         # smoke run, a few seconds
    python bench/bench_spmv.py --all-isas --json results.json
    python bench/bench_spmv.py --blocks 16x1,8x4 --dtypes float32,int8 --shapes 2688x896 --densities 0.05
"""
from __future__ import annotations

import os
import sys

# Must happen before numpy (and sparsewave, which imports numpy) is imported.
_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")
for _var in _THREAD_VARS:
    os.environ[_var] = "1"
_NUMPY_PREIMPORTED = "numpy" in sys.modules

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import sparsewave  # noqa: E402
from sparsewave import BlockSparseMatrix  # noqa: E402

SHAPES = ((2688, 896), (3072, 1024), (768, 256))
DENSITIES = (1.0, 0.1, 0.05, 0.03)
BLOCKS = ((4, 4), (16, 1), (8, 4))
# dtype -> the blocks it has kernels for (float16 on request: --dtypes)
DTYPE_BLOCKS = {"float32": ((4, 4), (16, 1)), "float16": ((4, 4), (16, 1)), "int8": ((8, 4), (4, 4))}
DTYPES = ("float32", "int8")
HEADLINE = ((2688, 896), 0.05)
TARGET_SPEEDUP = 20.0
TARGET_DENSE_RATIO = 0.80


def make_weights(rows: int, cols: int, block: tuple[int, int], density: float, seed: int) -> np.ndarray:
    """Dense float32 matrix whose (br x bc) blocks are kept with probability `density`."""
    br, bc = block
    rng = np.random.default_rng(seed)
    w = rng.uniform(-1.0, 1.0, size=(rows, cols)).astype(np.float32)
    w[w == 0.0] = 0.5  # a kept block must not lose weights to exact zeros
    if density < 1.0:
        nbr, nbc = -(-rows // br), -(-cols // bc)
        keep = rng.random((nbr, nbc)) < density
        mask = np.repeat(np.repeat(keep, br, axis=0), bc, axis=1)[:rows, :cols]
        w *= mask
    return np.ascontiguousarray(w)


def case_seed(rows: int, cols: int, block: tuple[int, int], density: float, base: int) -> int:
    return base + rows * 131 + cols * 17 + block[0] * 7 + block[1] + int(round(density * 10000)) * 100003


def stored_weights(m: BlockSparseMatrix) -> int:
    br, bc = m.block
    return m.nnz_blocks * br * bc


def check_result(label: str, m: BlockSparseMatrix, w: np.ndarray, x: np.ndarray, y_ours: np.ndarray,
                 y_np: np.ndarray) -> None:
    """Ours against numpy, once before timing. float16 and int8 are checked against the
    weights they store (``to_dense()``: rounded, dequantized); int8 also within the
    rounding of x (half a step of max |x| / 127 per weight)."""
    scale = float(np.abs(w).sum(axis=1).max()) or 1.0
    if m.dtype == np.float32:
        ref, tol = y_np.astype(np.float64), 1e-4 * np.abs(y_np) + 1e-5 * scale
    else:
        wd = m.to_dense().astype(np.float64)
        ref = wd @ x.astype(np.float64)
        tol = 1e-4 * np.abs(ref) + 1e-5 * scale
        if m.dtype == np.int8:
            tol = tol + 0.5 * float(np.abs(x).max()) / 127 * np.abs(wd).sum(axis=1) * (1 + 1e-3)
    err = np.abs(y_ours - ref)
    if not np.all(err <= tol):
        raise RuntimeError(f"{label}: result differs from numpy (max abs err {float(err.max()):.3g})")


def dense_eq_side(nnz: int) -> int:
    return max(16, int(round(math.sqrt(nnz) / 16.0)) * 16)


def _burst(fn, n: int) -> float:
    """Seconds per call over `n` back-to-back calls."""
    t0 = time.perf_counter_ns()
    for _ in range(n):
        fn()
    return (time.perf_counter_ns() - t0) * 1e-9 / n


def calibrate(fn, sample_s: float) -> int:
    """Burst length so one sample takes about `sample_s` (warms caches too)."""
    fn()
    n = 1
    while True:
        t = _burst(fn, n) * n
        if t >= sample_s / 4 or n >= 1 << 20:
            break
        n *= 2
    per_call = max(_burst(fn, n), 1e-9)
    return max(1, int(round(sample_s / per_call)))


def interleaved_medians(fns: dict, repeats: int, sample_s: float) -> dict:
    """Median seconds per call of each function, sampled in alternating order."""
    bursts = {k: calibrate(f, sample_s) for k, f in fns.items()}
    samples = {k: [] for k in fns}
    keys = list(fns)
    for rep in range(repeats):
        for k in (keys if rep % 2 == 0 else keys[::-1]):
            samples[k].append(_burst(fns[k], bursts[k]))
    return {k: statistics.median(v) for k, v in samples.items()}


class _DenseEqCache:
    """Our density-1.0 square matrices (and buffers), shared between cases."""

    def __init__(self, seed: int):
        self._seed = seed
        self._cache = {}

    def get(self, side: int, block: tuple[int, int], dtype: str):
        key = (side, block, dtype)
        if key not in self._cache:
            w = make_weights(side, side, block, 1.0, case_seed(side, side, block, 1.0, self._seed))
            m = BlockSparseMatrix.from_dense(w, block=block, dtype=dtype)
            x = np.random.default_rng(self._seed + side).uniform(-1, 1, side).astype(np.float32)
            self._cache[key] = (m, x, np.empty(side, dtype=np.float32))
        return self._cache[key]


def call_overhead(repeats: int, sample_s: float) -> float:
    """Median seconds of matvec on a 16x16 matrix: the fixed per-call cost of the API."""
    m = BlockSparseMatrix.from_dense(np.ones((16, 16), np.float32), block=(4, 4))
    x = np.ones(16, np.float32)
    out = np.empty(16, np.float32)
    return interleaved_medians({"tiny": lambda: m.matvec(x, out=out)}, repeats, sample_s)["tiny"]


def bench_case(isa: str, shape, density: float, block, dtype: str, args, dense_eq: _DenseEqCache) -> dict:
    rows, cols = shape
    w = make_weights(rows, cols, block, density, case_seed(rows, cols, block, density, args.seed))
    m = BlockSparseMatrix.from_dense(w, block=block, dtype=dtype)
    x = np.random.default_rng(args.seed + 1).uniform(-1, 1, cols).astype(np.float32)
    y_ours = np.empty(rows, dtype=np.float32)
    y_np = np.empty(rows, dtype=np.float32)

    nnz = stored_weights(m)
    side = dense_eq_side(nnz)
    md, xd, yd = dense_eq.get(side, block, dtype)

    # Correctness once, before timing: same matrix, same x.
    m.matvec(x, out=y_ours)
    np.matmul(w, x, out=y_np)
    check_result(f"{isa} {block} {dtype} {shape} d{density}", m, w, x, y_ours, y_np)

    med = interleaved_medians({
        "ours": lambda: m.matvec(x, out=y_ours),
        "numpy": lambda: np.matmul(w, x, out=y_np),
        "dense_eq": lambda: md.matvec(xd, out=yd),
    }, args.repeats, args.sample_ms * 1e-3)

    nnz_eq = stored_weights(md)
    gflops = 2.0 * nnz / med["ours"] * 1e-9
    gflops_eq = 2.0 * nnz_eq / med["dense_eq"] * 1e-9
    return {
        "isa": isa,
        "block": f"{block[0]}x{block[1]}",
        "dtype": dtype,
        "shape": f"{rows}x{cols}",
        "density": density,
        "actual_density": m.density,
        "nnz": nnz,
        "weight_bytes": m.nbytes,
        "ours_us": med["ours"] * 1e6,
        "numpy_us": med["numpy"] * 1e6,
        "speedup": med["numpy"] / med["ours"],
        "ours_gflops": gflops,
        "numpy_gflops_dense": 2.0 * rows * cols / med["numpy"] * 1e-9,
        "dense_eq_side": side,
        "dense_eq_nnz": nnz_eq,
        "dense_eq_us": med["dense_eq"] * 1e6,
        "dense_eq_gflops": gflops_eq,
        "sparse_vs_dense": gflops / gflops_eq,
    }


def markdown_table(rows: list[dict]) -> str:
    head = ("| isa | block | dtype | shape | density | nnz | ours µs | numpy µs | speedup | ours GFLOP/s "
            "| dense-eq | dense-eq µs | dense-eq GFLOP/s | sparse/dense |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        lines.append(
            f"| {r['isa']} | {r['block']} | {r['dtype']} | {r['shape']} | {r['density']:g} | {r['nnz']:,} "
            f"| {r['ours_us']:.2f} | {r['numpy_us']:.1f} | {r['speedup']:.1f}x | {r['ours_gflops']:.1f} "
            f"| {r['dense_eq_side']}² | {r['dense_eq_us']:.2f} | {r['dense_eq_gflops']:.1f} "
            f"| {r['sparse_vs_dense']:.2f} |")
    return "\n".join(lines)


def headline_report(rows: list[dict], overhead_s: float, peak_gflops: float | None) -> tuple[list[str], dict]:
    (hr, hc), hd = HEADLINE
    shape = f"{hr}x{hc}"
    cases = [r for r in rows if r["shape"] == shape and abs(r["density"] - hd) < 1e-12]
    lines, verdict = [], {}
    if not cases:
        return lines, verdict
    lines.append(f"Headline {shape} at density {hd:g} (one thread), per-call API overhead "
                 f"(16x16 matvec) {overhead_s * 1e6:.2f} µs:")
    for r in cases:
        values_bytes = r["nnz"] * np.dtype(r["dtype"]).itemsize
        tag = f"{r['isa']} {r['block']} {r['dtype']}"
        floor = (f"  floor [{tag}]: {r['nnz']:,} nonzero MACs, "
                 f"{r['weight_bytes']:,} bytes of weights ({values_bytes:,} values + "
                 f"{r['weight_bytes'] - values_bytes:,} indices{' and row scales' if r['dtype'] == 'int8' else ''}); "
                 f"{r['ours_us']:.2f} µs = "
                 f"{r['ours_gflops']:.1f} GFLOP/s, {r['weight_bytes'] / (r['ours_us'] * 1e-6) * 1e-9:.1f} GB/s "
                 f"of weights")
        if peak_gflops:
            floor += f", {r['ours_gflops'] / peak_gflops:.1%} of the {peak_gflops:g} GFLOP/s FMA peak"
        lines.append(floor)
        ok_speed = r["speedup"] >= TARGET_SPEEDUP
        ok_ratio = r["sparse_vs_dense"] >= TARGET_DENSE_RATIO
        lines.append(f"  target [{tag}]: speedup vs numpy {r['speedup']:.1f}x "
                     f"(>= {TARGET_SPEEDUP:g}x: {'MET' if ok_speed else 'NOT MET'}); sparse/dense-eq "
                     f"GFLOP/s {r['sparse_vs_dense']:.2f} (>= {TARGET_DENSE_RATIO:.2f}: "
                     f"{'MET' if ok_ratio else 'NOT MET'})")
        verdict[f"{r['isa']}/{r['block']}/{r['dtype']}"] = {"speedup_met": ok_speed, "dense_ratio_met": ok_ratio,
                                              "speedup": r["speedup"], "sparse_vs_dense": r["sparse_vs_dense"]}
    return lines, verdict


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="smoke run: one shape (2688x896), few repeats, short samples")
    p.add_argument("--all-isas", action="store_true", help="every available ISA, not only the best")
    p.add_argument("--isa", help="run this ISA only (default: the best available)")
    p.add_argument("--shapes", help="comma list like 2688x896,768x256")
    p.add_argument("--densities", help="comma list like 0.05,0.03")
    p.add_argument("--blocks", help="comma list like 4x4,16x1,8x4 (each dtype runs those it has kernels for)")
    p.add_argument("--dtypes", help="comma list of float32, float16, int8 (default float32,int8)")
    p.add_argument("--repeats", type=int, help="interleaved samples per measurement (default 41; quick 7)")
    p.add_argument("--sample-ms", type=float, help="target length of one sample in ms (default 2; quick 0.3)")
    p.add_argument("--seed", type=int, default=2024)
    p.add_argument("--peak-gflops", type=float,
                   help="one-core FMA peak in GFLOP/s, to print the achieved fraction for the headline case")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = p.parse_args(argv)
    if args.repeats is None:
        args.repeats = 7 if args.quick else 41
    if args.sample_ms is None:
        args.sample_ms = 0.3 if args.quick else 2.0
    if args.repeats < 1 or args.sample_ms <= 0:
        p.error("--repeats must be >= 1 and --sample-ms > 0")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    shapes = SHAPES[:1] if args.quick else SHAPES
    if args.shapes:
        shapes = tuple(tuple(int(v) for v in s.lower().split("x")) for s in args.shapes.split(","))
    densities = tuple(float(d) for d in args.densities.split(",")) if args.densities else DENSITIES
    blocks = tuple(tuple(int(v) for v in b.lower().split("x")) for b in args.blocks.split(",")) \
        if args.blocks else BLOCKS
    dtypes = tuple(d.strip() for d in args.dtypes.split(",")) if args.dtypes else DTYPES
    unknown = [d for d in dtypes if d not in DTYPE_BLOCKS]
    if unknown:
        print(f"error: unknown dtype(s) {', '.join(unknown)}; choose from {', '.join(DTYPE_BLOCKS)}",
              file=sys.stderr)
        return 2
    kernels = [(b, d) for d in dtypes for b in DTYPE_BLOCKS[d] if b in blocks]

    available = sparsewave.available_isas()
    if args.isa:
        if args.isa not in available:
            print(f"error: ISA {args.isa!r} is not available here; available: {', '.join(available)}",
                  file=sys.stderr)
            return 2
        isas = [args.isa]
    elif args.all_isas:
        isas = available
    else:
        isas = [available[-1]]  # slowest first, so the last is the best

    if _NUMPY_PREIMPORTED:
        print("warning: numpy was imported before this module set *_NUM_THREADS=1; "
              "BLAS may use several threads", file=sys.stderr)

    overhead = call_overhead(args.repeats, args.sample_ms * 1e-3)
    dense_eq = _DenseEqCache(args.seed)
    rows = []
    t_start = time.perf_counter()
    try:
        for isa in isas:
            sparsewave.set_isa(isa)
            for shape in shapes:
                for block, dtype in kernels:
                    for density in densities:
                        rows.append(bench_case(isa, shape, density, block, dtype, args, dense_eq))
    finally:
        sparsewave.set_isa("auto")
    elapsed = time.perf_counter() - t_start

    print(f"sparsewave {sparsewave.__version__}, ISAs available: {', '.join(available)}; numpy {np.__version__}; "
          f"{platform.processor() or platform.machine()}; one thread "
          f"(OPENBLAS/OMP/MKL_NUM_THREADS=1); medians of {args.repeats} interleaved samples "
          f"of ~{args.sample_ms:g} ms; {elapsed:.1f} s")
    print()
    print(markdown_table(rows))
    print()
    lines, verdict = headline_report(rows, overhead, args.peak_gflops)
    for line in lines:
        print(line)

    if args.json:
        meta = {
            "sparsewave_version": sparsewave.__version__,
            "numpy_version": np.__version__,
            "available_isas": available,
            "machine": platform.machine(),
            "processor": platform.processor(),
            "python": platform.python_version(),
            "thread_env": {v: os.environ.get(v) for v in _THREAD_VARS},
            "repeats": args.repeats,
            "sample_ms": args.sample_ms,
            "seed": args.seed,
            "call_overhead_us": overhead * 1e6,
            "targets": {"speedup": TARGET_SPEEDUP, "sparse_vs_dense": TARGET_DENSE_RATIO,
                        "headline": {"shape": f"{HEADLINE[0][0]}x{HEADLINE[0][1]}", "density": HEADLINE[1]}},
            "headline_verdict": verdict,
        }
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"meta": meta, "results": rows}, f, indent=2)
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
