"""Average several exports of one training run into one weight file (Polyak averaging).

A vocoder sampled free-running is sensitive to where the last optimizer steps left its weights:
consecutive exports of one run can differ by several hundredths of resynthesis mel correlation.
The mean of a few consecutive exports sits in the middle of that jitter, as the exponential
moving averages used for sampling in WaveNet-style vocoders do.

    python -m sparsewave.train.average OUT.sw IN.sw IN.sw [IN.sw ...]

The inputs must be the same architecture (same config apart from "training"). Exports made
after pruning ended share their block masks, so the mean keeps the sparsity; if the masks
differ, the mean's zero blocks are only those zero in every input, and the command says so.
Needs no PyTorch.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

__all__ = ["average_exports", "main"]


def _architecture(config: dict) -> dict:
    return {k: v for k, v in config.items() if k != "training"}


def average_exports(paths, out) -> dict:
    """Write the element-wise mean of the weight files ``paths`` to ``out`` (atomic write).

    Returns a summary: the steps averaged and, per matrix, the fraction of exact zeros before
    (minimum over inputs) and after averaging."""
    from ..weights import load_model_tensors, save_model

    paths = [Path(p) for p in paths]
    if len(paths) < 2:
        raise ValueError("need at least two weight files to average")
    total, config, zeros_in, steps = None, None, {}, []
    for p in paths:
        tensors, cfg = load_model_tensors(p)
        steps.append((cfg.get("training") or {}).get("step"))
        if total is None:
            total = {k: v.astype(np.float64) for k, v in tensors.items()}
            config = cfg
        else:
            if _architecture(cfg) != _architecture(config):
                raise ValueError(f"'{p}' is a different model from '{paths[0]}' (configs differ)")
            if set(tensors) != set(total):
                raise ValueError(f"'{p}' holds different tensors from '{paths[0]}'")
            for k, v in tensors.items():
                if v.shape != total[k].shape:
                    raise ValueError(f"tensor '{k}' is {v.shape} in '{p}' but {total[k].shape} in '{paths[0]}'")
                total[k] += v
        for k, v in tensors.items():
            if v.ndim == 2:
                z = float(np.mean(v == 0))
                zeros_in[k] = min(zeros_in.get(k, 1.0), z)
    mean = {k: (v / len(paths)).astype(np.float32) for k, v in total.items()}
    zeros_out = {k: float(np.mean(mean[k] == 0)) for k in zeros_in}
    config = dict(config)
    config["training"] = dict(config.get("training") or {}, step=max(s for s in steps if s is not None) if any(
        s is not None for s in steps) else None, averaged_steps=steps)
    save_model(out, mean, config)
    return {"steps": steps, "zeros_in": zeros_in, "zeros_out": zeros_out}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m sparsewave.train.average",
                                description="Average exports of one training run into one weight file.")
    p.add_argument("out", help="the averaged weight file to write")
    p.add_argument("inputs", nargs="+", help="two or more exports (.sw) of the same model")
    args = p.parse_args(argv)
    try:
        info = average_exports(args.inputs, args.out)
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"wrote {args.out}: mean of {len(args.inputs)} exports (steps {info['steps']})")
    for k, z in info["zeros_out"].items():
        if z + 1e-9 < info["zeros_in"][k]:
            print(f"note: {k} has {z:.1%} zeros after averaging, {info['zeros_in'][k]:.1%} in the sparsest "
                  "input: the inputs' block masks differ", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
