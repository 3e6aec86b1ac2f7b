"""Subscale WaveRNN (B sub-tensors per step) against the plain dual-softmax loop, side by side.

One process; the same random cell weights (R, I, cond, O1..O4 of WaveRNN-N at the given
density and block) in the plain and subscale models, the subscale one adding its context stack;
Fused Subscale at the same N (its R the same; I and the heads O1..O8 of its four parts drawn
from the same seed). Repeats are interleaved (plain, subscale, ..., plain, ...) so a busy machine
slows all alike; medians. Rows: plain unbatched, subscale unbatched (one thread; its sub-tensors
split over 2 threads; folds on 2 threads), fused (one thread; its pairs split over 2 threads),
for each weight storage asked. Also the floor per step (weight bytes read, MACs) and time to
first audio.

    python bench/bench_subscale.py [--hidden 896] [--density 0.05] [--block 4x4] [--seconds 2]
                                   [--repeats 5] [--weights float32,int8] [--json out.json]
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
from sparsewave.subscale import random_subscale  # noqa: E402
from sparsewave.weights import save_model  # noqa: E402

SR, HOP = 24000, 300


def floor_per_step(v) -> dict:
    """What one batched step must read and multiply: every matrix once (bytes), and the MACs
    of B samples (the loop's nonzero MACs per sample times B; fused: B samples from B / 2 states)."""
    d = v.describe()
    B = d.get("sub_tensors", 1)
    return {"weight_bytes": sum(m["bytes"] for m in d["matrices"]), "macs": v.loop_macs[0] * B,
            "samples": B}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hidden", type=int, default=896)
    ap.add_argument("--density", type=float, default=0.05)
    ap.add_argument("--block", default="4x4")
    ap.add_argument("--sub-tensors", type=int, default=16)
    ap.add_argument("--horizon", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--weights", default="float32,int8")
    ap.add_argument("--json")
    a = ap.parse_args()
    block = tuple(int(x) for x in a.block.split("x"))
    frames = max(1, int(a.seconds * SR / HOP))
    mel = np.random.default_rng(0).standard_normal((frames, 80)).astype(np.float32)
    n = frames * HOP
    rows, report = [], {"isa": sparsewave.isa(), "hidden": a.hidden, "density": a.density, "block": a.block,
                        "sub_tensors": a.sub_tensors, "horizon": a.horizon, "seconds": n / SR}
    with tempfile.TemporaryDirectory() as tmp:
        plain_path = save_model(Path(tmp) / "plain.sw", *random_dual_softmax(a.hidden, a.density, block, seed=1,
                                                                              sample_rate=SR, hop_length=HOP))
        sub_path = save_model(Path(tmp) / "sub.sw", *random_subscale(
            a.hidden, a.density, block, seed=1, sample_rate=SR, hop_length=HOP, sub_tensors=a.sub_tensors,
            horizon=a.horizon))
        fused_path = save_model(Path(tmp) / "fused.sw", *random_subscale(
            a.hidden, a.density, block, seed=1, sample_rate=SR, hop_length=HOP, sub_tensors=a.sub_tensors,
            horizon=a.horizon, fused=True))
        for weights in a.weights.split(","):
            plain = sparsewave.Vocoder.load(plain_path, weights=weights)
            sub = sparsewave.Vocoder.load(sub_path, weights=weights)
            fused = sparsewave.Vocoder.load(fused_path, weights=weights)
            runs = {"plain": (plain, {}), "subscale": (sub, {}),
                    "subscale, sub-tensors on 2 threads": (sub, dict(threads=2)),
                    "subscale, folds on 2 threads": (sub, dict(batched=True, threads=2)),
                    "fused subscale": (fused, {}),
                    "fused subscale, pairs on 2 threads": (fused, dict(threads=2))}
            times = {k: [] for k in runs}
            for v, kw in runs.values():
                v.synthesize(mel[:4], seed=0, **kw)  # warm-up
            for r in range(a.repeats):
                for name, (v, kw) in runs.items():
                    t0 = time.perf_counter()
                    v.synthesize(mel, seed=r, **kw)
                    times[name].append(time.perf_counter() - t0)
            base = n / statistics.median(times["plain"])
            for name, (v, kw) in runs.items():
                sps = n / statistics.median(times[name])
                rows.append({"model": name, "weights": weights, "threads": kw.get("threads", 1),
                             "samples_per_s": sps, "x_real_time": sps / SR, "vs_plain": sps / base,
                             "seconds_all": times[name], **{"floor_" + k: x for k, x in floor_per_step(v).items()}})
            for name, v in (("subscale", sub), ("fused subscale", fused)):
                d = v.describe()
                groups = a.sub_tensors // (2 if d["fused"] else 1)
                step_s = statistics.median(times[name]) / (-(-n // a.sub_tensors) + (groups - 1) * a.horizon)
                report.setdefault("first_audio", {})[f"{name}, {weights}"] = {
                    "steps_to_first_audio": d["steps_to_first_audio"], "seconds_per_step": step_s,
                    "subscale_first_samples_s": d["steps_to_first_audio"] * step_s,
                    "plain_first_sample_s": statistics.median(times["plain"]) / n}
    report["rows"] = rows
    print(f"ISA {report['isa']}, WaveRNN-{a.hidden} density {a.density} {a.block}, B={a.sub_tensors} F={a.horizon}, "
          f"{n / SR:.1f} s of audio, median of {a.repeats} (interleaved)\n")
    print("| model | weights | threads | samples/s | x real time | vs plain | floor per step: weight bytes, MACs |")
    print("|---|---|---:|---:|---:|---:|---|")
    for r in rows:
        print(f"| {r['model']} | {r['weights']} | {r['threads']} | {r['samples_per_s']:,.0f} | {r['x_real_time']:.2f} | "
              f"{r['vs_plain']:.2f} | {r['floor_weight_bytes']:,} B, {r['floor_macs']:,} MACs "
              f"({r['floor_samples']} samples) |")
    for w, f in report["first_audio"].items():
        print(f"\n{w}: first audio after {f['steps_to_first_audio']} steps = {f['subscale_first_samples_s'] * 1e3:.1f} ms "
              f"(plain: {f['plain_first_sample_s'] * 1e6:.1f} µs per sample)")
    if a.json:
        Path(a.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
