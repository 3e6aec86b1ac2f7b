"""End-to-end vocoder benchmark: sparsewave vs a PyTorch per-sample loop, one thread.

What is measured
----------------
The real pruned geneing WaveRNN (``../shared/data/wavernn_geneing_mailabs/model.bin``,
converted to a .sw file here) vocodes two real mels:

* ``lj 1s``: the reference LJ clip mel (``reference/lj001_0001_mel.npy``, (80, 50) ->
  transposed), 10,000 samples; batched folds target 2000 / overlap 100 (5 folds, as the
  reference's batched generation);
* ``m-ailabs``: the longer M-AILABS example mel (628 frames, 125,600 samples); batched folds
  target 11000 / overlap 550 (geneing's and fatchord's generate() defaults).

Each is timed as

* ``torch``: a PyTorch implementation of the same model written from the equations in
  ``../shared/data/README.md`` (conditioning network with conv1d/conv2d, then the sample loop
  with ``nn.GRUCell`` and ``nn.Linear``, weights from ``state_dict.pt``, inverse-CDF sampling
  with ``torch.searchsorted``), unbatched and batched (folds stacked as the batch dimension,
  crossfaded with fatchord's ``xfade_and_unfold``), under ``torch.inference_mode()``;
* ``engine``: ``Vocoder.synthesize`` unbatched, batched on 1 thread and batched on 2 threads,
  with the same folds; and a streamer fed one mel frame per push (the unbatched output, bit for
  bit; ``bench/bench_stream.py`` compares the two at 5 to 60 s).

Both sides include the conditioning (upsampling + MelResNet) in the time. samples/s counts
*output* samples (frames x hop), so batched numbers are comparable with unbatched ones.
Real-time factor = samples/s / 16000 (audio seconds per compute second; > 1 is faster than
real time). Every number is the median of ``--repeats`` runs (runs alternate between the
contenders so slow periods of a noisy machine hit them alike).

Before timing, the PyTorch loop is checked against the reference: its conditioning against
``*_cond_*.npy`` and its teacher-forced logits against ``tf_logits_first400.npy``; the engine's
teacher-forced logits likewise. The checks are printed.

The floor: nonzero and executed multiply-accumulates per sample of the engine's sample loop
(``Vocoder.loop_macs``), the GMAC/s the unbatched engine achieves over them, and the GMAC/s
of the spmv kernel alone on the same matrices (``BlockSparseMatrix.matvec`` with the block
shapes the engine chose, per-call overhead subtracted): their ratio is the fraction of the
kernel's speed the whole loop keeps.

Threads: OMP/OPENBLAS/MKL thread counts are set to 1 before numpy and torch load, and
``torch.set_num_threads(1)``; the engine's batched-2-thread row is the only multi-threaded one.

Usage::

    python bench/bench_vocoder.py                  # full run (torch needed), ~2 minutes
    python bench/bench_vocoder.py --repeats 3 --json results.json
    python bench/bench_vocoder.py --quick          # CI smoke run: engine only, no torch, seconds
"""
from __future__ import annotations

import os
import sys

_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")
for _var in _THREAD_VARS:
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import sparsewave  # noqa: E402
from sparsewave import BlockSparseMatrix, Vocoder  # noqa: E402
from sparsewave.benchmark import stream_frame_by_frame  # noqa: E402
from sparsewave.converters import convert  # noqa: E402
from sparsewave.weights import load_model_tensors  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data"
GENEING = DATA / "wavernn_geneing_mailabs"
REF = DATA / "reference"
SAMPLE_RATE = 16000

CLIPS = {
    # name: (mel file, transpose?, target, overlap)
    "lj 1s": (REF / "lj001_0001_mel.npy", True, 2000, 100),
    "m-ailabs": (GENEING / "example_mel-northandsouth_52_f000076.npy", False, 11000, 550),
}


# --------------------------------------------------------------------------- PyTorch reference loop


class TorchGeneing:
    """geneing's WaveRNN in plain PyTorch ops (README "Generation"), for timing and checks."""

    def __init__(self, sd, torch):
        self.torch = torch
        nn = torch.nn
        self.sd = {k: v.float() for k, v in sd.items() if v.is_floating_point()}
        g = self.sd
        self.pad, self.hop, self.factors = 2, 200, (4, 5, 10)
        self.res_blocks = 3
        self.eps = 1e-5
        rnn = g["I.weight"].shape[0]
        self.I = nn.Linear(g["I.weight"].shape[1], rnn)
        self.rnn = nn.GRUCell(rnn, rnn)
        self.fc1 = nn.Linear(g["fc1.weight"].shape[1], g["fc1.weight"].shape[0])
        self.fc3 = nn.Linear(g["fc3.weight"].shape[1], g["fc3.weight"].shape[0])
        with torch.no_grad():
            for name, layer in (("I", self.I), ("fc1", self.fc1), ("fc3", self.fc3)):
                layer.weight.copy_(g[f"{name}.weight"])
                layer.bias.copy_(g[f"{name}.bias"])
            self.rnn.weight_ih.copy_(g["rnn1.weight_ih_l0"])
            self.rnn.weight_hh.copy_(g["rnn1.weight_hh_l0"])
            self.rnn.bias_ih.copy_(g["rnn1.bias_ih_l0"])
            self.rnn.bias_hh.copy_(g["rnn1.bias_hh_l0"])
        for m in (self.I, self.rnn, self.fc1, self.fc3):
            m.eval()
        self.n_aux_i = g["I.weight"].shape[1] - 1 - 80  # 31
        self.n_classes = g["fc3.weight"].shape[0]

    def _bn(self, x, prefix):
        g = self.sd
        return self.torch.nn.functional.batch_norm(x, g[prefix + ".running_mean"], g[prefix + ".running_var"],
                                                   g[prefix + ".weight"], g[prefix + ".bias"], False, 0.0, self.eps)

    def condition(self, mel):
        """mel (T, 80) numpy -> (mels_up (N, 80), aux (N, 64)) tensors, N = T * hop."""
        torch = self.torch
        F = torch.nn.functional
        g = self.sd
        m = torch.from_numpy(np.ascontiguousarray(mel.T, dtype=np.float32))[None]  # (1, 80, T)
        mp = F.pad(m, (self.pad, self.pad))
        rn = "upsample.resnet"
        x = F.relu(self._bn(F.conv1d(mp, g[f"{rn}.conv_in.weight"]), f"{rn}.batch_norm"))
        for i in range(self.res_blocks):
            res = x
            x = F.relu(self._bn(F.conv1d(x, g[f"{rn}.layers.{i}.conv1.weight"]), f"{rn}.layers.{i}.batch_norm1"))
            x = self._bn(F.conv1d(x, g[f"{rn}.layers.{i}.conv2.weight"]), f"{rn}.layers.{i}.batch_norm2") + res
        aux = F.conv1d(x, g[f"{rn}.conv_out.weight"], g[f"{rn}.conv_out.bias"])  # (1, 64, T)
        aux = aux[0].T.repeat_interleave(self.hop, dim=0)  # (N, 64)
        u = mp[:, None]  # (1, 1, 80, T + 2 pad)
        for i, s in enumerate(self.factors):
            u = u.repeat_interleave(s, dim=3)
            u = F.conv2d(u, g[f"upsample.up_layers.{2 * i + 1}.weight"], padding=(0, s))
        cut = self.pad * self.hop
        mels_up = u[0, 0, :, cut:u.shape[-1] - cut].T.contiguous()  # (N, 80)
        return mels_up, aux.contiguous()

    def _step(self, x, m_t, a1, a2, h):
        torch = self.torch
        y = self.I(torch.cat([x, m_t, a1], dim=1))
        h = self.rnn(y, h)
        z = torch.cat([y + h, a2], dim=1)
        return self.fc3(torch.relu(self.fc1(z))), h

    def teacher_forced(self, mels_up, aux, prev):
        torch = self.torch
        n = prev.shape[0]
        h = torch.zeros(1, self.I.out_features)
        out = []
        for t in range(n):
            x = torch.tensor([[float(prev[t])]])
            logits, h = self._step(x, mels_up[t:t + 1], aux[t:t + 1, :self.n_aux_i], aux[t:t + 1, 32:64], h)
            out.append(logits[0])
        return torch.stack(out).numpy()

    def loop(self, mels_up, aux, gen):
        """Free-running generation; mels_up/aux (B, N, .) -> samples (B, N)."""
        torch = self.torch
        B, N, _ = mels_up.shape
        h = torch.zeros(B, self.I.out_features)
        x = torch.zeros(B, 1)
        a1 = aux[:, :, :self.n_aux_i]
        a2 = aux[:, :, 32:64]
        out = torch.empty(B, N)
        scale = 2.0 / (self.n_classes - 1)
        for t in range(N):
            logits, h = self._step(x, mels_up[:, t], a1[:, t], a2[:, t], h)
            cdf = torch.cumsum(torch.softmax(logits, dim=1), dim=1)
            u = torch.rand(B, 1, generator=gen)
            k = torch.searchsorted(cdf, u).clamp_(max=self.n_classes - 1)
            x = k.float() * scale - 1.0
            out[:, t] = x[:, 0]
        return out

    def generate(self, mel, batched=False, target=2000, overlap=100, seed=0):
        torch = self.torch
        gen = torch.Generator().manual_seed(seed)
        mels_up, aux = self.condition(mel)
        n = mels_up.shape[0]
        if not batched:
            return self.loop(mels_up[None], aux[None], gen)[0].numpy()
        fm = fold_with_overlap(mels_up, target, overlap, torch)
        fa = fold_with_overlap(aux, target, overlap, torch)
        y = self.loop(fm, fa, gen).numpy()
        return xfade_and_unfold(y, overlap)[:n]


def fold_with_overlap(x, target, overlap, torch):
    """fatchord's fold_with_overlap on (N, F) -> (folds, target + 2 overlap, F)."""
    n = x.shape[0]
    folds = (n - overlap) // (target + overlap)
    remaining = n - (folds * (target + overlap) + overlap)
    if remaining:
        folds += 1
        x = torch.cat([x, x.new_zeros(target + 2 * overlap - remaining, x.shape[1])])
    length = target + 2 * overlap
    return torch.stack([x[i * (target + overlap): i * (target + overlap) + length] for i in range(folds)])


def xfade_and_unfold(y, overlap):
    """fatchord's xfade_and_unfold (equal-power crossfade, overlap // 2 of silence)."""
    y = np.array(y, dtype=np.float64)
    folds, length = y.shape
    target = length - 2 * overlap
    silence = overlap // 2
    t = np.linspace(-1, 1, overlap - silence)
    fade_in = np.concatenate([np.zeros(silence), np.sqrt(0.5 * (1 + t))])
    fade_out = np.concatenate([np.sqrt(0.5 * (1 - t)), np.zeros(silence)])
    y[:, :overlap] *= fade_in
    y[:, -overlap:] *= fade_out
    out = np.zeros(folds * (target + overlap) + overlap)
    for i in range(folds):
        out[i * (target + overlap): i * (target + overlap) + length] += y[i]
    return out


# --------------------------------------------------------------------------- helpers


def median_time(fn, repeats: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def interleaved(fns: dict, repeats: int) -> dict:
    """Median seconds of each callable, the runs interleaved (order alternating)."""
    samples = {k: [] for k in fns}
    keys = list(fns)
    for r in range(repeats):
        for k in (keys if r % 2 == 0 else keys[::-1]):
            t0 = time.perf_counter()
            fns[k]()
            samples[k].append(time.perf_counter() - t0)
    return {k: (statistics.median(v), v) for k, v in samples.items()}


def _burst(fn, n):
    t0 = time.perf_counter_ns()
    for _ in range(n):
        fn()
    return (time.perf_counter_ns() - t0) * 1e-9 / n


def spmv_rate(voc: Vocoder, tensors: dict, repeats: int = 5) -> dict:
    """GMAC/s of BlockSparseMatrix.matvec on the engine's per-sample matrices (block shapes as the engine's)."""
    mats = []
    for m in voc.describe().get("matrices", []):
        if not m.get("per_sample", True):
            continue
        base = m["name"].split(" ")[0]
        key = base + "_l0" if base.startswith("rnn") else base
        if key not in tensors:
            continue
        rows, cols = m["shape"]
        w = np.ascontiguousarray(tensors[key][:rows, :cols])
        bsm = BlockSparseMatrix.from_dense(w, block=tuple(m["block"]))
        x = np.random.default_rng(0).uniform(-1, 1, cols).astype(np.float32)
        out = np.empty(rows, np.float32)
        br, bc = bsm.block
        mats.append((m["name"], bsm, x, out, bsm.nnz_blocks * br * bc, int(np.count_nonzero(w))))
    if not mats:
        return {}
    tiny = BlockSparseMatrix.from_dense(np.ones((16, 16), np.float32), block=(4, 4))
    tx, tout = np.ones(16, np.float32), np.empty(16, np.float32)

    def all_mats():
        for _, bsm, x, out, _, _ in mats:
            bsm.matvec(x, out=out)

    n = 2000
    _burst(all_mats, 200)
    t = statistics.median(_burst(all_mats, n) for _ in range(repeats))
    overhead = statistics.median(_burst(lambda: tiny.matvec(tx, out=tout), n) for _ in range(repeats))
    kernel_t = max(t - overhead * len(mats), 1e-12)
    stored = sum(s for *_, s, _ in mats)
    nonzero = sum(z for *_, z in mats)
    return {"matrices": [name for name, *_ in mats], "stored_macs": stored, "nonzero_macs": nonzero,
            "seconds_per_pass": t, "call_overhead_s": overhead, "kernel_seconds_per_pass": kernel_t,
            "gmacs_executed": stored / kernel_t * 1e-9, "gmacs_nonzero": nonzero / kernel_t * 1e-9}


def quick_model(tmp: Path) -> tuple[Path, dict]:
    """A random-weight model of the geneing layout (for --quick without the shared data)."""
    from sparsewave.converters import expected_shapes

    cfg = {"family": "fatchord", "variant": "geneing", "sample_rate": 16000, "n_mels": 80, "hop_length": 200,
           "pad": 2, "upsample_factors": [4, 5, 10], "upsample_kernel_sizes": [9, 11, 21], "res_blocks": 3,
           "compute_dims": 64, "res_out_dims": 64, "bn_eps": 1e-5, "rnn_dims": 256, "fc_dims": 128, "n_rnn": 1,
           "fc_names": ["fc1", "fc3"], "n_fc": 2, "aux_slices": {"I": [0, 31], "fc1": [32, 64]},
           "head": "softmax", "bits": 10, "n_classes": 1024, "mu_law": False}
    rng = np.random.default_rng(0)
    sd = {}
    for name, shape in expected_shapes(cfg).items():
        a = (0.1 * rng.standard_normal(shape)).astype(np.float32)
        if name.endswith("running_var"):
            a = np.abs(a) + 0.5
        if a.ndim == 2 and a.size > 4096:
            a *= np.repeat(rng.random((shape[0], -(-shape[1] // 4))) < 0.15, 4, axis=1)[:, :shape[1]]
        sd[name] = a
    np.savez(tmp / "random_geneing.npz", **sd)
    return tmp / "random_geneing.npz", sd


# --------------------------------------------------------------------------- main


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3, help="runs per measurement; medians are reported")
    ap.add_argument("--quick", action="store_true", help="CI smoke run: engine only (no torch), short clip, 1 repeat")
    ap.add_argument("--no-torch", action="store_true", help="skip the PyTorch loop")
    ap.add_argument("--clips", default=",".join(CLIPS), help=f"comma-separated subset of {list(CLIPS)}")
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON ('-' for stdout)")
    args = ap.parse_args(argv)
    if args.repeats < 1:
        ap.error("--repeats must be >= 1")
    if args.quick:
        args.repeats = 1
        args.no_torch = True
        args.clips = "lj 1s"

    torch = None
    if not args.no_torch:
        try:
            import torch
        except ImportError:
            print("torch is not installed: PyTorch rows skipped", file=sys.stderr)
        else:
            torch.set_num_threads(1)
            torch.set_num_interop_threads(1) if hasattr(torch, "set_num_interop_threads") else None

    tmp = Path(tempfile.mkdtemp(prefix="sparsewave_bench_"))
    have_data = (GENEING / "model.bin").is_file() and REF.is_dir()
    if have_data:
        src = GENEING / "model.bin"
    elif args.quick:
        src, _ = quick_model(tmp)
        print("shared data not found: --quick uses a random-weight model of the geneing layout", file=sys.stderr)
    else:
        print(f"shared data not found at {DATA.resolve()}; run with --quick", file=sys.stderr)
        return 2
    sw = tmp / "geneing.sw"
    convert(src, sw)
    voc = Vocoder.load(sw)
    tensors, _ = load_model_tensors(sw)
    nz, ex = voc.loop_macs

    results = {"machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                           "cpus": os.cpu_count(), "python": platform.python_version(),
                           "numpy": np.__version__, "torch": getattr(torch, "__version__", None),
                           "isa": sparsewave.isa()},
               "model": {"source": str(src), "loop_macs_nonzero": nz, "loop_macs_executed": ex,
                         "sample_rate": voc.sample_rate},
               "repeats": args.repeats, "checks": {}, "clips": {}}

    tm = None
    if torch is not None and have_data:
        sd = torch.load(GENEING / "state_dict.pt", map_location="cpu", weights_only=True)
        tm = TorchGeneing(sd, torch)
        with torch.inference_mode():
            mel = np.load(REF / "lj001_0001_mel.npy").T
            mu, ax = tm.condition(mel)
            results["checks"]["torch_cond_max_abs_err"] = max(
                float(np.abs(mu.numpy() - np.load(REF / "lj001_0001_cond_mels_up.npy")).max()),
                float(np.abs(ax.numpy() - np.load(REF / "lj001_0001_cond_aux.npy")).max()))
            idx = np.load(REF / "lj001_0001_tf_target_idx.npy").astype(np.int64)
            x = 2.0 * idx / 1023 - 1.0
            prev = np.concatenate([[0.0], x[:399]])
            ref = np.load(REF / "lj001_0001_tf_logits_first400.npy")
            lg = tm.teacher_forced(mu, ax, prev)
            results["checks"]["torch_tf_logits_max_abs_err"] = float(np.abs(lg - ref).max())
    if have_data:
        mel = np.load(REF / "lj001_0001_mel.npy").T
        idx = np.load(REF / "lj001_0001_tf_target_idx.npy").astype(np.int64)
        x = (2.0 * idx / 1023 - 1.0).astype(np.float32)
        ref = np.load(REF / "lj001_0001_tf_logits_first400.npy")
        results["checks"]["engine_tf_logits_max_abs_err"] = float(np.abs(voc.logits(mel, x[:400]) - ref).max())
        results["checks"]["tf_logits_scale"] = float(np.abs(ref).max())

    spmv = spmv_rate(voc, tensors, repeats=max(3, args.repeats))
    results["spmv"] = spmv

    for clip in [c.strip() for c in args.clips.split(",") if c.strip()]:
        if clip not in CLIPS:
            ap.error(f"unknown clip {clip!r}; choose from {list(CLIPS)}")
        path, transpose, target, overlap = CLIPS[clip]
        if have_data:
            mel = np.load(path)
            mel = np.ascontiguousarray(mel.T if transpose else mel, dtype=np.float32)
        else:
            mel = np.random.default_rng(0).uniform(-3, 1, (50, 80)).astype(np.float32)
        n = mel.shape[0] * voc.hop_length
        folds = voc.fold_layout(mel.shape[0], target, overlap)
        voc.synthesize(mel[:4], seed=0)  # warm-up
        fns = {
            ("engine", "unbatched", 1): lambda: voc.synthesize(mel, seed=1),
            ("engine", "batched", 1): lambda: voc.synthesize(mel, seed=1, batched=True, target=target,
                                                              overlap=overlap, threads=1),
            ("engine", "batched", 2): lambda: voc.synthesize(mel, seed=1, batched=True, target=target,
                                                              overlap=overlap, threads=2),
            ("engine", "stream, 1 frame per push", 1): lambda: stream_frame_by_frame(voc, mel, seed=1),
        }
        timed = interleaved(fns, args.repeats)
        if tm is not None:
            with torch.inference_mode():
                tm.generate(mel[:4])  # warm-up
                tfns = {("torch", "unbatched", 1): lambda: tm.generate(mel, seed=1),
                        ("torch", "batched", 1): lambda: tm.generate(mel, batched=True, target=target,
                                                                     overlap=overlap, seed=1)}
                timed.update(interleaved(tfns, args.repeats))
        rows = []
        for (who, mode, threads), (med, all_t) in timed.items():
            rows.append({"impl": who, "mode": mode, "threads": threads, "seconds": med, "seconds_all": all_t,
                         "samples_per_s": n / med, "rtf": n / voc.sample_rate / med})
        for r in rows:
            base = next((b for b in rows if b["impl"] == "torch" and b["mode"] == r["mode"]), None)
            base_unb = next((b for b in rows if b["impl"] == "torch" and b["mode"] == "unbatched"), None)
            r["vs_torch_same_mode"] = r["samples_per_s"] / base["samples_per_s"] if base else None
            r["vs_torch_unbatched"] = r["samples_per_s"] / base_unb["samples_per_s"] if base_unb else None
        unb = next(r for r in rows if r["impl"] == "engine" and r["mode"] == "unbatched")
        results["clips"][clip] = {
            "frames": mel.shape[0], "samples": n, "target": target, "overlap": overlap,
            "folds": len(folds), "fold_length": folds[0][1], "rows": rows,
            "engine_unbatched_gmacs_nonzero": nz * unb["samples_per_s"] * 1e-9,
            "engine_unbatched_gmacs_executed": ex * unb["samples_per_s"] * 1e-9,
        }

    print_report(results)
    if args.json:
        text = json.dumps(results, indent=2)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text + "\n")
    return 0


def print_report(res: dict) -> None:
    m = res["machine"]
    print(f"# sparsewave vocoder benchmark ({m['processor']}, {m['cpus']} CPUs, ISA {m['isa']}, "
          f"torch {m['torch'] or 'not run'}, one thread unless stated, median of {res['repeats']})")
    print()
    c = res["checks"]
    if c:
        parts = []
        if "torch_cond_max_abs_err" in c:
            parts.append(f"torch conditioning vs reference max err {c['torch_cond_max_abs_err']:.2g}")
        if "torch_tf_logits_max_abs_err" in c:
            parts.append(f"torch teacher-forced logits err {c['torch_tf_logits_max_abs_err']:.2g}")
        if "engine_tf_logits_max_abs_err" in c:
            parts.append(f"engine teacher-forced logits err {c['engine_tf_logits_max_abs_err']:.2g}")
        if "tf_logits_scale" in c:
            parts.append(f"(logits up to {c['tf_logits_scale']:.0f})")
        print("checks: " + "; ".join(parts))
        print()
    print("| clip | impl | mode | threads | folds | samples/s | x real time @16k | vs torch same mode "
          "| vs torch unbatched | seconds |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for clip, cr in res["clips"].items():
        order = sorted(cr["rows"], key=lambda r: (r["impl"] != "torch", r["mode"] != "unbatched", r["threads"]))
        for r in order:
            folds = f"{cr['folds']} x {cr['fold_length']:,}" if r["mode"] == "batched" else "1"
            same = f"{r['vs_torch_same_mode']:.1f}x" if r["vs_torch_same_mode"] and r["impl"] != "torch" else ""
            unb = f"{r['vs_torch_unbatched']:.1f}x" if r["vs_torch_unbatched"] and r["impl"] != "torch" else ""
            print(f"| {clip} ({cr['samples']:,} samples) | {r['impl']} | {r['mode']} | {r['threads']} | {folds} | "
                  f"{r['samples_per_s']:,.0f} | {r['rtf']:.2f} | {same} | {unb} | {r['seconds']:.3f} |")
    print()
    mod = res["model"]
    print(f"floor: {mod['loop_macs_nonzero']:,} nonzero MACs per sample in the sample loop, "
          f"{mod['loop_macs_executed']:,} executed ({mod['loop_macs_executed'] / max(mod['loop_macs_nonzero'], 1):.2f}x, "
          "block padding)")
    sp = res.get("spmv") or {}
    for clip, cr in res["clips"].items():
        line = (f"  {clip}: engine unbatched achieves {cr['engine_unbatched_gmacs_nonzero']:.2f} GMAC/s nonzero, "
                f"{cr['engine_unbatched_gmacs_executed']:.2f} GMAC/s executed")
        if sp:
            line += (f" = {cr['engine_unbatched_gmacs_executed'] / sp['gmacs_executed'] * 100:.0f}% of the spmv kernel "
                     f"alone on the same matrices ({sp['gmacs_executed']:.2f} GMAC/s = "
                     f"{2 * sp['gmacs_executed']:.1f} GFLOP/s executed, {sp['gmacs_nonzero']:.2f} GMAC/s nonzero)")
        print(line)
    if sp:
        print(f"  spmv pass over {', '.join(sp['matrices'])}: {sp['kernel_seconds_per_pass'] * 1e6:.2f} us "
              f"(+{sp['call_overhead_s'] * 1e6:.2f} us Python call overhead per matrix, subtracted) -> "
              f"kernel-only floor {1 / sp['kernel_seconds_per_pass']:,.0f} samples/s")


if __name__ == "__main__":
    sys.exit(main())
