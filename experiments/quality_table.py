"""Markdown table of trained runs: training budget, size, and quality on held-out clips.

For each run folder written by ``sparsewave.train`` (checkpoint log + ``model.sw``) this prints
the budget the run got (steps, samples seen, CPU minutes), the model's per-sample cost, and the
quality figures of ``sparsewave.quality`` on the held-out clips: teacher-forced NLL in bits per
sample (duration-weighted), resynthesis mel correlation, and the standard metrics of the [eval]
extra: V/UV F1, median pitch error, STOI and DNSMOS OVRL (means over clips and seeds 0..K-1).

    python experiments/quality_table.py RUN_DIR [RUN_DIR ...] --clips CLIP.wav [CLIP.wav ...] [--json OUT]

Clips must be held out of every run's training (the trainer lists its own in log.jsonl).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _log_events(run: Path) -> list[dict]:
    path = run / "log.jsonl"
    if not path.is_file():
        raise SystemExit(f"{run}: no log.jsonl (not a sparsewave.train run folder)")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def run_budget(run: Path, step: int | None = None) -> dict:
    """Steps, samples seen and training seconds of a run, from its log; ``step``: the step of the
    exported model (the log may have gone further)."""
    events = _log_events(run)
    if step is not None:
        events = [e for e in events if e.get("step", 0) <= step]
    starts = [e for e in events if e["event"] in ("start", "resume")]
    if not starts:
        raise SystemExit(f"{run}: log.jsonl has no start or resume event")
    opts = starts[-1]["options"]
    steps = max(e.get("step", 0) for e in events)
    hop = opts["mel"]["hop_length"]
    vals = [e for e in events if e["event"] == "val"]
    held_out = next((e["val_clips"] for e in starts if e.get("val_clips")), [])
    return {"steps": steps, "samples_seen": steps * opts["batch"] * opts["seq_frames"] * hop,
            "train_minutes": max(e.get("elapsed_s", 0.0) for e in events) / 60.0,
            "threads": sorted({e["options"].get("threads") or 0 for e in starts}),
            "val_bits_trainer": vals[-1]["val_bits"] if vals else None, "held_out": held_out}


def run_model(run: Path) -> Path:
    """The run's latest export, or, for a committed run folder that keeps only its manifest, the
    shipped file the manifest names (paths relative to the repository root)."""
    if (run / "model.sw").is_file() or not (run / "manifest.json").is_file():
        return run / "model.sw"
    import json

    shipped = json.loads((run / "manifest.json").read_text())["shipped"]["file"]
    return Path(__file__).resolve().parents[1] / shipped


def score_run(run: Path, clips: list[Path], n_seeds: int = 1) -> dict:
    from sparsewave import Vocoder
    from sparsewave.audio import read_audio
    from sparsewave.quality import evaluate_clip

    voc = Vocoder.load(run_model(run))
    nonzero, _ = voc.loop_macs
    budget = run_budget(run, voc.config.get("training", {}).get("step"))
    for clip in clips:
        if budget["held_out"] and clip.name not in budget["held_out"]:
            raise SystemExit(f"{clip.name} is not among {run}'s held-out clips {budget['held_out']}")
    scores = []
    for clip in clips:
        audio, _ = read_audio(clip, target_rate=voc.sample_rate)
        scores.append(evaluate_clip(voc, audio, seed=0, n_seeds=n_seeds, standard_metrics=True))
    seconds = sum(s.seconds for s in scores)
    cfg = voc.config
    return {"run": run.name, "hidden": cfg.get("hidden", cfg.get("rnn_dims")), "block": cfg.get("block"),
            "sparsity": cfg.get("training", {}).get("target_sparsity"), "macs_per_sample": nonzero, **budget,
            "nll_bits": sum(s.nll_bits * s.seconds for s in scores) / seconds,
            "mel_correlation": sum(s.mel_correlation for s in scores) / len(scores),
            "per_clip_mel_correlation": [round(s.mel_correlation, 4) for s in scores],
            **{k: _mean([s.metrics[k] for s in scores]) for k in ("vuv_f1", "pitch_error_cents", "stoi", "dnsmos_ovrl")},
            "seeds": n_seeds}


def _mean(values: list[float]) -> float:
    finite = [v for v in values if v == v]
    return sum(finite) / len(finite) if finite else float("nan")


def markdown(rows: list[dict]) -> str:
    lines = ["| run | N | GRU blocks | GRU sparsity | nonzero MACs/sample | steps | samples seen | CPU min (threads) "
             "| held-out NLL (bits/sample) | resynth mel corr | V/UV F1 | pitch error (cents) | STOI | DNSMOS OVRL |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        block = ("dense" if not r["sparsity"] else "x".join(map(str, r["block"]))) if r["block"] else "own pattern"
        lines.append(f"| {r['run']} | {r['hidden']} | {block} | {r['sparsity'] or 0:.0%} | {r['macs_per_sample']:,} "
                     f"| {r['steps']:,} | {r['samples_seen'] / 1e6:.1f} M | {r['train_minutes']:.0f} ({'/'.join(map(str, r['threads']))}) "
                     f"| {r['nll_bits']:.3f} | {r['mel_correlation']:.3f} | {r['vuv_f1']:.2f} | {r['pitch_error_cents']:.0f} "
                     f"| {r['stoi']:.2f} | {r['dnsmos_ovrl']:.2f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", type=Path, help="sparsewave.train run folders")
    p.add_argument("--clips", nargs="+", type=Path, required=True, help="held-out WAV files")
    p.add_argument("--seeds", type=int, default=3, help="resyntheses per clip (seeds 0..K-1, default 3)")
    p.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = p.parse_args(argv)
    rows = [score_run(run, args.clips, args.seeds) for run in args.runs]
    print(markdown(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
