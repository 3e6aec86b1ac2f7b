"""Per-sample cost of the sample loop, for one or more builds side by side.

What is measured
----------------
For each build (a PYTHONPATH whose ``sparsewave`` is that build; default: the one this Python
imports) and each model file, unbatched ``Vocoder.synthesize`` on one thread of a smooth random
mel (``sparsewave.benchmark.smooth_random_mel``, as ``sparsewave bench`` uses) or of ``--mel``:

* samples/s by CPU time (``time.process_time``: time spent waiting for a core does not count,
  the steadier figure on a shared machine) and by wall-clock time, and x real time by CPU time;
  medians of ``--repeats`` runs, builds alternating run by run so slow periods hit them alike;
* with ``--callgrind``: instructions per sample, from two runs under valgrind's callgrind at
  0.1 s and 0.35 s of audio (the difference over the extra samples: loading and conditioning
  set-up cancel). Instruction counts repeat exactly on a noisy machine; ``--top N`` also lists
  the N functions with the most instructions per sample;
* the floor the model sets: nonzero and executed (stored) multiply-accumulates per sample of
  the loop's matrices, and the weight bytes the loop streams per sample (values plus one 32-bit
  column index per block).

Each measurement runs in a child process (``python -c``) with the build's PYTHONPATH.

Usage::

    python bench/bench_sample_loop.py model.sw other.sw
    python bench/bench_sample_loop.py model.sw --build before=/tmp/pkg-old --build after=/tmp/pkg-new \\
        --repeats 7 --callgrind --top 8 --json loop.json
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

# One measurement in a child process: prints a JSON line.
_WORKER = r"""
import json, sys, time
import numpy as np
import sparsewave
from sparsewave import Vocoder, benchmark
path, seconds, repeats, mel_path, weights = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
v = Vocoder.load(path, weights=weights or None)  # "": as the file stores them
if mel_path:
    mel = np.load(mel_path).astype(np.float32)
    if mel.shape[1] != v.n_mels: mel = mel.T
    mel = mel[: max(1, int(round(seconds * v.sample_rate / v.hop_length)))] if seconds > 0 else mel
else:
    mel = benchmark.smooth_random_mel(v, seconds)
if repeats > 0:
    v.synthesize(mel[:10], seed=0)  # warm-up
cpu, wall, n = [], [], 0
for r in range(max(repeats, 1)):
    t0, c0 = time.perf_counter(), time.process_time()
    n = len(v.synthesize(mel, seed=r))
    wall.append(time.perf_counter() - t0)
    cpu.append(time.process_time() - c0)
d = v.describe()
print(json.dumps({"samples": n, "cpu": cpu, "wall": wall, "sample_rate": v.sample_rate, "isa": sparsewave.isa(),
                  "nonzero_macs": d["loop_nonzero_macs"], "stored_macs": d["loop_stored_macs"],
                  "matrices": d["matrices"]}))
"""


def run_worker(pythonpath, model, seconds, repeats, mel, weights, valgrind_out=None):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    cmd = [sys.executable, "-c", _WORKER, model, str(seconds), str(repeats), mel or "", weights]
    if valgrind_out:
        cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={valgrind_out}"] + cmd
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"measurement failed ({model}):\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def callgrind_functions(path):
    """(total, {function: instructions}) from callgrind_annotate's exclusive table."""
    text = subprocess.run(["callgrind_annotate", "--threshold=100", path], capture_output=True, text=True).stdout
    lines = text.splitlines()
    total = next(int(m.group(1).replace(",", "")) for m in map(re.compile(r"\s*([\d,]+) .*PROGRAM TOTALS").match,
                                                                   lines) if m)
    funcs = {}
    start = next(i for i, line in enumerate(lines) if "file:function" in line) + 2
    for line in lines[start:]:
        m = re.match(r"\s*([\d,]+)\s+\([^)]*\)\s+(.*)", line)
        if not m:
            break
        name = re.sub(r"\s*\[.*\]$", "", m.group(2))
        name = name.split(":", 1)[1] if ":" in name else name
        funcs[name] = funcs.get(name, 0) + int(m.group(1).replace(",", ""))
    return total, funcs


def instructions_per_sample(pythonpath, model, mel, weights, top):
    with tempfile.TemporaryDirectory() as tmp:
        runs = []
        for seconds in (0.1, 0.35):
            out = os.path.join(tmp, f"cg.{seconds}")
            n = run_worker(pythonpath, model, seconds, 0, mel, weights, valgrind_out=out)["samples"]
            runs.append((n, *callgrind_functions(out)))
    (n0, t0, f0), (n1, t1, f1) = runs
    per = (t1 - t0) / (n1 - n0)
    funcs = sorted(((f1.get(k, 0) - f0.get(k, 0)) / (n1 - n0), k) for k in set(f0) | set(f1))
    return per, [(round(v), k) for v, k in reversed(funcs[-top:])] if top else []


def weight_bytes(matrices, weights):
    """Values (4, 2 or 1 bytes, as each matrix stores them) plus a 32-bit column index per block."""
    total = 0
    for m in matrices:
        br, bc = m["block"]
        value = {"int8": 1, "float16": 2}.get(m.get("dtype"), 2 if weights == "float16" else 4)
        total += value * m["stored_values"] + 4 * (m["stored_values"] // (br * bc))
    return total


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="+", help=".sw model files")
    ap.add_argument("--build", action="append", default=[], metavar="NAME=PYTHONPATH",
                    help="a build to measure (repeatable); default: the sparsewave this Python imports")
    ap.add_argument("--seconds", type=float, default=2.0, help="audio per timed run (default 2)")
    ap.add_argument("--repeats", type=int, default=5, help="timed runs per build and model (default 5)")
    ap.add_argument("--mel", help="a (frames, n_mels) .npy mel instead of a smooth random one")
    ap.add_argument("--weights", choices=("float32", "float16", "int8"), default="",
                    help="storage of the sample loop's weights (Vocoder.load(weights=...); default: as the file "
                         "stores them, int8 for an int8 file)")
    ap.add_argument("--callgrind", action="store_true", help="also count instructions per sample (valgrind)")
    ap.add_argument("--top", type=int, default=0, help="with --callgrind: list the top N functions per sample")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args(argv)
    if args.repeats < 1 or args.seconds <= 0:
        ap.error("--repeats and --seconds must be positive")
    builds = []
    for b in args.build or ["current="]:
        name, sep, path = b.partition("=")
        if not sep:
            ap.error(f"--build {b!r}: expected NAME=PYTHONPATH")
        builds.append((name, path))
    if args.callgrind and not (shutil.which("valgrind") and shutil.which("callgrind_annotate")):
        ap.error("--callgrind needs valgrind and callgrind_annotate on PATH")

    results = {(b, m): {"cpu": [], "wall": []} for b, _ in builds for m in args.models}
    for _ in range(args.repeats):  # builds and models alternate run by run
        for model in args.models:
            for name, path in builds:
                r = run_worker(path, model, args.seconds, 1, args.mel, args.weights)
                res = results[(name, model)]
                res["cpu"] += r["cpu"]
                res["wall"] += r["wall"]
                res.update({k: r[k] for k in ("samples", "sample_rate", "isa", "nonzero_macs", "stored_macs",
                                              "matrices")})
    if args.callgrind:
        for (name, model), res in results.items():
            path = dict(builds)[name]
            res["instructions_per_sample"], res["top"] = instructions_per_sample(path, model, args.mel, args.weights,
                                                                                 args.top)

    print("| build | model | ISA | samples/s (CPU) | samples/s (wall) | x real time (CPU) | MACs/sample nonzero "
          "(executed) | weight KB/sample | instructions/sample |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    rows = []
    for (name, model), res in results.items():
        n, sr = res["samples"], res["sample_rate"]
        cpu, wall = statistics.median(res["cpu"]), statistics.median(res["wall"])
        row = {"build": name, "model": model, "isa": res["isa"], "weights": args.weights or "as stored", "samples_per_cpu_second": n / cpu,
               "samples_per_wall_second": n / wall, "realtime_cpu": n / sr / cpu, "cpu_seconds": res["cpu"],
               "wall_seconds": res["wall"], "samples": n, "nonzero_macs": res["nonzero_macs"],
               "stored_macs": res["stored_macs"], "weight_bytes_per_sample": weight_bytes(res["matrices"], args.weights),
               "instructions_per_sample": res.get("instructions_per_sample"), "top": res.get("top")}
        rows.append(row)
        ins = f"{row['instructions_per_sample']:,.0f}" if row["instructions_per_sample"] else "-"
        print(f"| {name} | {os.path.basename(model)} | {row['isa']} | {row['samples_per_cpu_second']:,.0f} | "
              f"{row['samples_per_wall_second']:,.0f} | {row['realtime_cpu']:.1f} | {row['nonzero_macs']:,} "
              f"({row['stored_macs']:,}) | {row['weight_bytes_per_sample'] / 1024:.0f} | {ins} |")
    for row in rows:
        if row["top"]:
            print(f"\n{row['build']} / {os.path.basename(row['model'])}: instructions per sample by function")
            for v, k in row["top"]:
                print(f"  {v:>8,}  {k[:110]}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
