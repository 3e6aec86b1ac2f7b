"""Streaming cost: a streamer fed one mel frame per push against ``synthesize`` on the same mel.

What is measured
----------------
For each model and length (default 5, 10, 30 and 60 s of audio), a smooth random mel in the
model's range (``sparsewave.benchmark.smooth_random_mel``; speed does not depend on the values) is

* ``synthesize``: ``Vocoder.synthesize(mel)``, unbatched (the output a stream reproduces);
* ``stream``: pushed into ``Vocoder.streamer()`` one frame per push, then flushed
  (``sparsewave.benchmark.stream_frame_by_frame``), the way frames arrive from a TTS model.

Models: the packaged default voice (dual-softmax) and the real pruned geneing WaveRNN (fatchord
family: MelResNet with batch norm, 3-stage upsampler), converted from
``../shared/data/wavernn_geneing_mailabs/model.bin`` (left out with a note when absent).

Both are timed in the same run, interleaved (synthesize then stream for each model and length,
repeat after repeat), so machine noise hits them alike; the table shows medians of wall-clock
time and the stream / synthesize ratio, of wall-clock time and of the process's CPU time (the
steadier figure on a shared machine: time spent waiting for a core does not count). The
stream's output is checked bit-identical to synthesize's once per row. One thread.

Usage::

    python bench/bench_stream.py                      # 5, 10, 30, 60 s, 3 repeats
    python bench/bench_stream.py --seconds 5,30 --repeats 5 --json stream.json
"""
from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import sparsewave  # noqa: E402
from sparsewave.benchmark import smooth_random_mel, stream_frame_by_frame  # noqa: E402
from sparsewave.converters import convert  # noqa: E402

GENEING_BIN = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "wavernn_geneing_mailabs" / "model.bin"


def load_models(tmp: Path) -> dict:
    models = {"default voice": sparsewave.Vocoder.default()}
    if GENEING_BIN.is_file():
        convert(GENEING_BIN, tmp / "geneing.sw")
        models["geneing"] = sparsewave.Vocoder.load(tmp / "geneing.sw")
    else:
        print(f"note: {GENEING_BIN} not found; geneing left out", file=sys.stderr)
    return models


def timed(fn):
    """((wall seconds, CPU seconds), fn())."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return (time.perf_counter() - t0, time.process_time() - c0), out


def run(seconds: list[float], repeats: int) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        models = load_models(Path(tmp))
        cases = [(name, v, s, smooth_random_mel(v, s)) for name, v in models.items() for s in seconds]
        times = {(name, s): {"synthesize": [], "stream": []} for name, _, s, _ in cases}
        identical = {}
        for v in models.values():
            v.synthesize(smooth_random_mel(v, 0.1), seed=0)  # warm-up
        for r in range(repeats):
            for name, v, s, mel in cases:
                t_syn, whole = timed(lambda: v.synthesize(mel, seed=r))
                t_str, streamed = timed(lambda: stream_frame_by_frame(v, mel, seed=r))
                times[name, s]["synthesize"].append(t_syn)
                times[name, s]["stream"].append(t_str)
                if r == 0:
                    identical[name, s] = bool(np.array_equal(whole, streamed))
        rows = []
        for name, v, s, mel in cases:
            t = times[name, s]
            syn, stm = (statistics.median(w for w, _ in t[k]) for k in ("synthesize", "stream"))
            syn_cpu, stm_cpu = (statistics.median(c for _, c in t[k]) for k in ("synthesize", "stream"))
            rows.append({"model": name, "family": v.family, "seconds_audio": s, "frames": mel.shape[0],
                         "synthesize_s": syn, "stream_s": stm, "ratio": stm / syn,
                         "synthesize_cpu_s": syn_cpu, "stream_cpu_s": stm_cpu, "cpu_ratio": stm_cpu / syn_cpu,
                         "bit_identical": identical[name, s], "synthesize_all": t["synthesize"],
                         "stream_all": t["stream"]})
        return rows


def print_table(rows: list[dict], repeats: int) -> None:
    print(f"# stream (1 frame per push) vs synthesize (unbatched), ISA {sparsewave.isa()}, one thread, "
          f"median of {repeats}")
    print()
    print("| model | family | audio | frames | synthesize | stream, 1 frame per push | stream / synthesize "
          "| same, CPU time | bit-identical |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        print(f"| {r['model']} | {r['family']} | {r['seconds_audio']:g} s | {r['frames']:,} | "
              f"{r['synthesize_s']:.2f} s | {r['stream_s']:.2f} s | {r['ratio']:.2f}x | {r['cpu_ratio']:.2f}x | "
              f"{'yes' if r['bit_identical'] else 'NO'} |")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", default="5,10,30,60", help="comma-separated audio lengths (s)")
    ap.add_argument("--repeats", type=int, default=3, help="runs per measurement; medians are reported")
    ap.add_argument("--json", metavar="PATH", help="also write the rows as JSON")
    args = ap.parse_args(argv)
    seconds = [float(x) for x in args.seconds.split(",") if x.strip()]
    if not seconds or min(seconds) <= 0 or args.repeats < 1:
        ap.error("--seconds needs positive lengths and --repeats at least 1")
    rows = run(seconds, args.repeats)
    print_table(rows, args.repeats)
    if args.json:
        Path(args.json).write_text(json.dumps({"repeats": args.repeats, "rows": rows}, indent=2) + "\n")
    return 0 if all(r["bit_identical"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
