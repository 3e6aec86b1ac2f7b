"""Speed of the paper's dual-softmax WaveRNN before training it.

One process, one thread (BLAS/OpenMP/torch pinned to 1 thread before numpy
is imported). For WaveRNN-896 at several densities and both block shapes,
random block-pruned weights (speed does not depend on the values), a 10 s
utterance at 24 kHz: samples/s, real-time factor, nonzero MACs per sample,
and the achieved rate against the floor. Medians of repeats. A PyTorch
per-sample loop of the same dense model is timed in the same run as the peer
(skipped without torch), and equal-parameter pairs (dense small vs sparse
large) are listed.

    python bench/bench_dual_softmax.py [--seconds 10] [--repeats 3] [--quick] [--json out.json]
"""
import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import sparsewave  # noqa: E402
from sparsewave.dual_softmax import random_dual_softmax  # noqa: E402
from sparsewave.weights import save_model  # noqa: E402

SR, HOP = 24000, 300


def time_engine(hidden, density, block, seconds, repeats, weights="float32", workdir=None):
    tensors, cfg = random_dual_softmax(hidden, density, block, seed=1, sample_rate=SR, hop_length=HOP)
    path = Path(workdir) / f"ds_{hidden}_{density}_{block[0]}x{block[1]}.sw"
    save_model(path, tensors, cfg)
    v = sparsewave.Vocoder.load(path, weights=weights)
    frames = max(1, int(seconds * SR / HOP))
    mels = np.random.default_rng(0).standard_normal((frames, 80)).astype(np.float32)
    times = []
    for r in range(repeats):
        t = time.perf_counter()
        y = v.synthesize(mels, seed=r)
        times.append(time.perf_counter() - t)
    nonzero, executed = v.loop_macs
    sps = len(y) / statistics.median(times)
    return {"hidden": hidden, "density": density, "block": f"{block[0]}x{block[1]}", "weights": weights,
            "samples_per_s": sps, "real_time_factor": sps / SR, "macs_per_sample": nonzero,
            "executed_macs_per_sample": executed, "gmacs_per_s": sps * nonzero / 1e9,
            "weight_bytes": sum(m["stored_values"] for m in v.describe()["matrices"]) * (2 if weights == "float16" else 4)}


def time_torch_dense(hidden, seconds, repeats):
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    tensors, cfg = random_dual_softmax(hidden, 1.0, (4, 4), seed=1, sample_rate=SR, hop_length=HOP)
    T = {k: torch.from_numpy(v) for k, v in tensors.items()}
    N, half = hidden, hidden // 2
    n = int(seconds * SR)
    frames = n // HOP
    mels = torch.randn(frames, 80)
    g = torch.Generator().manual_seed(0)

    @torch.no_grad()
    def run():
        cond = (mels @ T["cond.weight"].T + T["cond.bias"]).repeat_interleave(HOP, 0)
        h = torch.zeros(N)
        c_prev, f_prev = 128, 0
        Iw = T["I.weight"].clone()
        for gate in range(3):
            Iw[gate * N:gate * N + half, 2] = 0
        for t in range(cond.shape[0]):
            rh = T["R.weight"] @ h
            pre = Iw[:, 0] * (c_prev / 127.5 - 1) + Iw[:, 1] * (f_prev / 127.5 - 1) + T["I.bias"] + cond[t]
            u = torch.sigmoid(rh[:N] + pre[:N])
            r = torch.sigmoid(rh[N:2 * N] + pre[N:2 * N])
            # coarse half
            e = torch.tanh(r[:half] * rh[2 * N:2 * N + half] + pre[2 * N:2 * N + half])
            hc = u[:half] * h[:half] + (1 - u[:half]) * e
            pc = torch.softmax(T["O2.weight"] @ torch.relu(T["O1.weight"] @ hc + T["O1.bias"]) + T["O2.bias"], 0)
            c = int(torch.multinomial(pc, 1, generator=g))
            pre = pre + Iw[:, 2] * (c / 127.5 - 1)
            ef = torch.tanh(r[half:] * rh[2 * N + half:] + pre[2 * N + half:])
            hf = u[half:] * h[half:] + (1 - u[half:]) * ef
            pf = torch.softmax(T["O4.weight"] @ torch.relu(T["O3.weight"] @ hf + T["O3.bias"]) + T["O4.bias"], 0)
            f = int(torch.multinomial(pf, 1, generator=g))
            h = torch.cat([hc, hf])
            c_prev, f_prev = c, f
        return cond.shape[0]

    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        n_done = run()
        times.append(time.perf_counter() - t)
    sps = n_done / statistics.median(times)
    return {"hidden": hidden, "density": 1.0, "block": "dense", "weights": "torch", "samples_per_s": sps,
            "real_time_factor": sps / SR}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="tiny smoke run for CI")
    ap.add_argument("--json", help="write results here")
    a = ap.parse_args(argv)
    densities = [1.0, 0.1, 0.05, 0.04, 0.03]
    if a.quick:
        a.seconds, a.repeats, densities = 0.2, 1, [0.05]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for density in densities:
            for block in ((4, 4), (16, 1)):
                for weights in ("float32", "float16"):
                    if density == 1.0 and weights == "float16" and not a.quick:
                        continue
                    secs = min(a.seconds, 1.0) if density == 1.0 else a.seconds
                    rows.append(time_engine(896, density, block, secs, a.repeats, weights, tmp))
        pairs = [] if a.quick else [time_engine(256, 1.0, (4, 4), a.seconds, a.repeats, "float32", tmp),
                                    time_engine(1024, 0.05, (16, 1), a.seconds, a.repeats, "float32", tmp)]
        peer = None if a.quick else time_torch_dense(896, min(a.seconds, 0.25), 1)
    print(f"isa: {sparsewave.isa()}, 24 kHz, one thread, {a.seconds:g} s utterance, median of {a.repeats}\n")
    print("| N | density | block | weights | samples/s | x real time | nonzero MACs/sample | GMAC/s achieved |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows + pairs:
        print(f"| {r['hidden']} | {r['density']} | {r['block']} | {r['weights']} | {r['samples_per_s']:,.0f} | "
              f"{r['real_time_factor']:.2f} | {r['macs_per_sample']:,} | {r['gmacs_per_s']:.1f} |")
    if peer:
        print(f"| {peer['hidden']} | 1.0 | dense | PyTorch loop | {peer['samples_per_s']:,.0f} | "
              f"{peer['real_time_factor']:.3f} | - | - |")
        dense = [r for r in rows if r["density"] == 1.0 and r["block"] == "4x4"]
        if dense:
            print(f"\nengine dense / PyTorch dense: {dense[0]['samples_per_s'] / peer['samples_per_s']:.1f}x")
    if a.json:
        Path(a.json).write_text(json.dumps({"isa": sparsewave.isa(), "rows": rows, "pairs": pairs, "torch": peer}, indent=1))


if __name__ == "__main__":
    main()
