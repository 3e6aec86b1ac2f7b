"""Seed corpus for the weight-file fuzz target (cpp/fuzz/fuzz_model_file.cpp).

Writes small models of every family and variant with ``sparsewave.weights.save_model``
(dense and block-packed matrices, both heads, both upsamplers, pre-emphasis, the
trainer's int64 bookkeeping tensors, float16 tensors, an all-zero packed matrix, int8
matrices with per-row scales and float tails) and
copies the packaged voices (real trained weights: geneing's pruned WaveRNN fine-tuned).
Seeds are generated (in CI too), never committed.

Usage: python cpp/fuzz/make_corpus.py OUT_DIR [--no-large]
  --no-large  only the small generated models (a packaged voice is ~1.2 MB and
              costs ~1 s per fuzz execution under the sanitizers).
"""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np

import sparsewave
from sparsewave.converters.fatchord_family import expected_shapes
from sparsewave.dual_softmax import random_dual_softmax
from sparsewave.subscale import random_subscale
from sparsewave.weights import FORMAT_NAME, FORMAT_VERSION, save_model


def fatchord_config(variant: str, head: str, *, rnn=16, fc=12, compute=8, res_out=8, res_blocks=1,
                    factors=(2, 3), n_mels=5, pad=2, bits=9, mu_law=True) -> dict:
    """A small fatchord-family config: variant "fatchord" (2 GRUs, fc1..fc3, aux in 4 chunks)
    or "geneing" (1 GRU, fc1 + fc3, aux in 2 chunks)."""
    if variant == "fatchord":
        c = res_out // 4
        extra = {"n_rnn": 2, "fc_names": ["fc1", "fc2", "fc3"], "n_fc": 3,
                 "aux_slices": {"I": [0, c], "rnn2": [c, 2 * c], "fc1": [2 * c, 3 * c], "fc2": [3 * c, 4 * c]}}
    else:
        c = res_out // 2
        extra = {"n_rnn": 1, "fc_names": ["fc1", "fc3"], "n_fc": 2, "aux_slices": {"I": [0, c - 1], "fc1": [c, 2 * c]}}
    if head == "mol":
        out = {"head": "mol", "mol_n_mix": 10, "n_classes": 30, "mu_law": False, "mol_log_scale_min": -32.23619130191664}
    else:
        out = {"head": "softmax", "bits": bits, "n_classes": 2 ** bits, "mu_law": mu_law}
    return {"family": "fatchord", "variant": variant, "sample_rate": 16000, "n_mels": n_mels,
            "hop_length": int(np.prod(factors)), "pad": pad, "upsample_factors": list(factors),
            "upsample_kernel_sizes": [2 * f + 1 for f in factors], "res_blocks": res_blocks,
            "compute_dims": compute, "res_out_dims": res_out, "bn_eps": 1e-5, "rnn_dims": rnn, "fc_dims": fc,
            **extra, **out}


def fatchord_tensors(config: dict, seed: int, density: float = 1.0, block=(4, 4), zero=()) -> dict:
    """PyTorch-like random weights; matrices pruned to ``density`` in ``block`` tiles; names in
    ``zero`` all zeros (an all-zero matrix is stored packed with no blocks)."""
    rng = np.random.default_rng(seed)
    t = {}
    for name, shape in expected_shapes(config).items():
        if name.endswith("running_var") or "up_layers" in name:
            a = rng.uniform(0.5, 1.5, shape)
        elif name.endswith("running_mean") or name.endswith(".bias"):
            a = 0.1 * rng.standard_normal(shape)
        else:
            a = rng.standard_normal(shape) / np.sqrt(max(1, int(np.prod(shape[1:]))))
            if len(shape) == 2 and density < 1.0:
                br, bc = block
                keep = rng.random((-(-shape[0] // br), -(-shape[1] // bc))) < density
                a = a * np.kron(keep, np.ones(block))[: shape[0], : shape[1]]
        t[name] = np.zeros(shape) if name in zero else a
    return {k: v.astype(np.float32) for k, v in t.items()}


def write_float16(path: Path, tensors: dict, config: dict) -> None:
    """The same model with every tensor stored as F16 (the reader converts them)."""
    import safetensors.numpy

    metadata = {"format": FORMAT_NAME, "format_version": str(FORMAT_VERSION), "config": json.dumps(config)}
    safetensors.numpy.save_file({k: v.astype(np.float16) for k, v in tensors.items()}, str(path), metadata=metadata)


def small_models(out: Path) -> list[Path]:
    written = []

    def save(name, tensors, config, **kw):
        written.append(save_model(out / f"{name}.sw", tensors, config, **kw))

    # dual_softmax: dense and packed, repeat and conv upsampling, pre-emphasis.
    for name, kw in {
        "dual_softmax_dense": dict(hidden=8, density=1.0, n_mels=5, hop_length=4, output_hidden=4),
        "dual_softmax_packed": dict(hidden=16, density=0.3, n_mels=5, hop_length=3, output_hidden=8),
        "dual_softmax_conv": dict(hidden=8, density=0.5, n_mels=4, hop_length=4, output_hidden=4,
                                  upsample="conv", upsample_kernel=5),
        "dual_softmax_16x1": dict(hidden=32, density=0.25, block=(16, 1), n_mels=3, hop_length=2, output_hidden=4),
    }.items():
        tensors, config = random_dual_softmax(seed=len(written), **kw)
        if name == "dual_softmax_conv":
            config["preemphasis"] = 0.86
        if name == "dual_softmax_packed":
            config["sampling"] = {"tail_cut": 0.2, "how": "free text"}
        save(name, tensors, config)

    # fatchord family: both variants, both heads, dense / packed / all-zero packed matrices.
    mol = fatchord_config("fatchord", "mol")
    save("fatchord_mol_dense", fatchord_tensors(mol, 1), mol)
    raw = fatchord_config("fatchord", "softmax", bits=9, mu_law=True, res_blocks=2, factors=(2, 2))
    save("fatchord_raw_packed", fatchord_tensors(raw, 2, density=0.3), raw)
    gen = fatchord_config("geneing", "softmax", bits=10, mu_law=False, rnn=24, fc=20, factors=(5,), pad=1)
    save("geneing_packed_16x1", fatchord_tensors(gen, 3, density=0.2, block=(16, 1)), gen)
    # geneing's own pattern, column groups of four: save_model packs it in 1x4 blocks.
    wide = fatchord_config("geneing", "softmax", bits=8, mu_law=True, rnn=64, fc=16, factors=(5,), pad=1)
    save("geneing_packed_1x4", fatchord_tensors(wide, 7, density=0.12, block=(1, 4)), wide)
    save("geneing_tail_cut", fatchord_tensors(gen, 6, density=0.2), dict(gen, sampling={"tail_cut": 0.05}))
    zero = fatchord_config("geneing", "mol", factors=(3,), res_blocks=0)
    save("geneing_mol_zero_gru", fatchord_tensors(zero, 4, zero=("rnn1.weight_hh_l0",)), zero)
    # A trainer's full state_dict also holds int64 bookkeeping the engine ignores.
    extra = fatchord_tensors(mol, 5)
    extra["step"] = np.array([1000], dtype=np.int64)
    extra["upsample.resnet.batch_norm.num_batches_tracked"] = np.array(7, dtype=np.int64)
    save("fatchord_mol_bookkeeping", extra, mol, pack_sparse=False)
    # int8 loop matrices (weights="int8"): 8x4 and 4x4 blocks, padding rows, fc aux tails; both families.
    save("fatchord_raw_int8", fatchord_tensors(raw, 7, density=0.5), raw, weights="int8")
    tensors, config = random_dual_softmax(20, 0.6, (4, 4), seed=8, n_mels=3, hop_length=2, output_hidden=6)
    save("dual_softmax_int8", tensors, config, weights="int8")
    # subscale: the dual-softmax cell plus the context stack (its own tensors and limits).
    tensors, config = random_subscale(16, 0.5, (4, 4), seed=9, n_mels=3, hop_length=4, sub_tensors=4, horizon=2,
                                      context_channels=4, context_layers=2, context_features=2)
    save("subscale_small", tensors, config)
    # Fused Subscale: four-part cell (I with 7 columns, O1..O8), pairs in the stack's output.
    tensors, config = random_subscale(16, 0.5, (4, 4), seed=10, n_mels=3, hop_length=4, sub_tensors=4, horizon=2,
                                      context_channels=4, context_layers=2, context_features=2, fused=True)
    save("subscale_fused_small", tensors, config)
    f16 = out / "geneing_float16.sw"
    write_float16(f16, fatchord_tensors(gen, 6), gen)
    written.append(f16)
    return written


def packaged_models(out: Path) -> list[Path]:
    models = sorted((Path(sparsewave.__file__).parent / "models").glob("*.sw"))
    return [Path(shutil.copy(m, out / m.name)) for m in models]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path)
    p.add_argument("--no-large", action="store_true", help="skip the packaged voices")
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    files = small_models(args.out) + ([] if args.no_large else packaged_models(args.out))
    for f in files:
        print(f"{f.stat().st_size:9d}  {f.name}")


if __name__ == "__main__":
    main()
