"""sparsewave train --arch subscale: the training model computes docs/subscale.md (its teacher-forced
logits = the float64 reference's, tests/subscale_reference.py), the context reads only strictly
earlier steps, and a tiny run prunes on schedule, resumes exactly and exports a family-subscale
file with the documented tensors. Tiny models on synthetic clips, CPU only, a few seconds."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import sparsewave  # noqa: E402
import subscale_reference as sref  # noqa: E402
from sparsewave.train import cli as train_cli  # noqa: E402
from sparsewave.train.model import export_tensors  # noqa: E402
from sparsewave.train.prune import block_scores, blocks_to_prune  # noqa: E402
from sparsewave.train.subscale_model import SubscaleWaveRNN  # noqa: E402
from sparsewave.train.trainer import TrainConfig, load_checkpoint, train  # noqa: E402
from sparsewave.weights import load_model_tensors  # noqa: E402

from small_models import TINY_MEL as MEL, write_voiced_clips  # noqa: E402

# B = 4 sub-tensors, horizon F = 2 (< 2^D = 8), C = 8 channels, D = 3 layers, E = 2 features
SHAPE = dict(sub_tensors=4, horizon=2, context_channels=8, context_layers=3, context_features=2)


@pytest.fixture(scope="module")
def wav_dir(tmp_path_factory):
    return write_voiced_clips(tmp_path_factory.mktemp("wavs"))


def _random_model(upsample="repeat", seed=1, hidden=16, n_mels=3, hop=6, **shape):
    torch.manual_seed(seed)
    kw = dict(upsample="conv", upsample_kernel=5, learn_upsample=True) if upsample == "conv" else {}
    model = SubscaleWaveRNN(hidden, n_mels=n_mels, hop_length=hop, **{**SHAPE, **shape}, **kw).double()
    with torch.no_grad():  # larger than the init, so every term (the context above all) matters
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
        model.gru.weight_ih_l0.mul_(model.ih_mask)
    return model


def _expected_names(D: int, upsample: str) -> set:
    names = {"R.weight", "R.bias", "I.weight", "I.bias", "cond.weight", "cond.bias", "ctx.in.weight", "ctx.in.bias",
             "ctx.out.weight", "ctx.out.bias", "ctx.proj.weight"}
    names |= {f"O{k}.{w}" for k in range(1, 5) for w in ("weight", "bias")}
    names |= {f"ctx.conv{layer}.{w}" for layer in range(D) for w in ("weight", "bias")}
    return names | ({"upsample.weight"} if upsample == "conv" else set())


def _expected_shapes(N, M, H, B, C, D, E) -> dict:
    shapes = {"R.weight": (3 * N, N), "R.bias": (3 * N,), "I.weight": (3 * N, 3), "I.bias": (3 * N,),
              "cond.weight": (3 * N, M), "cond.bias": (3 * N,), "O1.weight": (H, N // 2), "O2.weight": (256, H),
              "O3.weight": (H, N // 2), "O4.weight": (256, H), "O1.bias": (H,), "O2.bias": (256,), "O3.bias": (H,),
              "O4.bias": (256,), "ctx.in.weight": (C, B), "ctx.in.bias": (C,), "ctx.out.weight": (B * E, C),
              "ctx.out.bias": (B * E,), "ctx.proj.weight": (3 * N, E)}
    for layer in range(D):
        shapes[f"ctx.conv{layer}.weight"] = (C, C, 2)
        shapes[f"ctx.conv{layer}.bias"] = (C,)
    return shapes


# ------------------------------------------------------------------------------ the model = the reference


@pytest.mark.parametrize("upsample", ["repeat", "conv"])
@pytest.mark.parametrize("L,frames", [(48, 8), (37, 7), (51, 8)], ids=["whole-grid", "padded-tail", "past-the-mel"])
def test_teacher_forced_logits_equal_the_reference(upsample, L, frames, rng):
    """On the exported weights, the training model's teacher-forced logits of a whole utterance are
    those of the float64 reference: an L that is not a multiple of B (padded tail), and one past
    frames * hop (the last rows read a zero mel)."""
    model = _random_model(upsample)
    mels = rng.standard_normal((frames, 3))
    audio = np.clip(rng.standard_normal(L) * 0.4, -1, 1)
    got = model.teacher_forced_logits(mels, audio)
    tensors = export_tensors(model)
    cfg = model.family_config(8000)
    want = sref.run(tensors, cfg, mels, L, audio=audio)["logits"][:L]
    assert got.shape == (L, 512)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4)  # float32 weights in the reference: ~1e-7
    # the comparison sees the context path: without ctx.proj the reference moves far more
    no_ctx = dict(tensors, **{"ctx.proj.weight": np.zeros_like(tensors["ctx.proj.weight"])})
    assert np.abs(sref.run(no_ctx, cfg, mels, L, audio=audio)["logits"][:L] - want).max() > 1e-2


def test_context_reads_only_earlier_steps(rng):
    """Changing one sample (b', j') moves the logits of (b, j) only if (b, j) is generated at a
    strictly later step, or is that sample itself (its fine logits see c_t)."""
    B, F = SHAPE["sub_tensors"], SHAPE["horizon"]
    model = _random_model(seed=4)
    L, T = 40, 10
    mels = rng.standard_normal((7, 3))
    audio = np.clip(rng.standard_normal(L) * 0.4, -1, 1)
    base = model.teacher_forced_logits(mels, audio)
    step = np.array([(t // B) + (t % B) * F for t in range(L)])
    for t0 in (0, 3, 9, 22, 38):
        moved = audio.copy()
        moved[t0] = -moved[t0] if abs(moved[t0]) > 0.1 else 0.5
        diff = np.abs(model.teacher_forced_logits(mels, moved) - base).max(axis=1)
        changed = diff > 1e-12
        allowed = (step > step[t0]) | (np.arange(L) == t0)
        assert not np.any(changed & ~allowed), np.nonzero(changed & ~allowed)
        # and the context does carry it: a later sample of another sub-tensor within reach moves
        later = [t for t in range(L) if t % B != t0 % B and step[t0] < step[t] <= step[t0] + 2 ** 3]
        assert later and np.any(changed[later])
    assert T * B == L


def test_limits_are_refused():
    for key, bad in (("sub_tensors", 0), ("sub_tensors", 65), ("horizon", 0), ("context_layers", 17),
                     ("context_features", 0), ("context_channels", 1025)):
        with pytest.raises(ValueError, match=key):
            SubscaleWaveRNN(8, n_mels=2, hop_length=4, **{**SHAPE, key: bad})


# ------------------------------------------------------------------------------ training runs


def _config(wav_dir, out, **kw):
    base = dict(data=[str(wav_dir)], out=str(out), arch="subscale", hidden=16, **SHAPE, mel=dict(MEL), steps=6,
                batch=4, seq_frames=4, sparsity=0.75, block="4x4", prune_start=2, prune_steps=4, prune_every=2,
                prune_heads=True, lr=1e-2, val_clips=1, val_crops=4, val_every=3, log_every=1, export_every=0,
                checkpoint_every=0, threads=1, seed=3, quiet=True)
    base.update(kw)
    return TrainConfig(**base)


def _log(out):
    return [json.loads(line) for line in (Path(out) / "log.jsonl").read_text().splitlines()]


def test_tiny_run_prunes_on_schedule_and_exports_the_documented_tensors(wav_dir, tmp_path):
    out = tmp_path / "run"
    res = train(_config(wav_dir, out))
    assert res["step"] == 6 and math.isfinite(res["val_bits"]) and 0 < res["val_bits"] < 16
    trains = {r["step"]: r for r in _log(out) if r.get("event") == "train"}
    assert all(math.isfinite(r["train_bits"]) for r in trains.values())
    assert trains[5]["train_bits"] + trains[6]["train_bits"] < trains[1]["train_bits"] + trains[2]["train_bits"]
    for step, z in {1: 0.0, 3: 0.0, 4: 0.75 * (1 - 0.5 ** 3), 5: 0.75 * 0.875, 6: 0.75}.items():
        assert trains[step]["sparsity"] == pytest.approx(z, abs=1e-6)
    # R's gates and (--prune-heads) O1..O4 are pruned in whole blocks; the context stays dense
    assert set(res["pruner"].names()) == {"R.u", "R.r", "R.e", "O1", "O2", "O3", "O4"}

    tensors, cfg = load_model_tensors(out / "model.sw")
    N, H, B, C, D, E = 16, 8, 4, 8, 3, 2
    assert cfg["family"] == "subscale" and cfg["mel"] == MEL and cfg["block"] == [4, 4]
    assert {k: cfg[k] for k in SHAPE} == SHAPE
    assert cfg["hidden"] == N and cfg["output_hidden"] == H and cfg["n_mels"] == MEL["n_mels"]
    assert cfg["hop_length"] == MEL["hop_length"] and cfg["training"]["step"] == 6
    assert set(tensors) == _expected_names(D, "repeat")
    for name, shape in _expected_shapes(N, MEL["n_mels"], H, B, C, D, E).items():
        assert tensors[name].shape == shape, name
    for gate in range(3):
        w = torch.from_numpy(np.ascontiguousarray(tensors["R.weight"][gate * N:(gate + 1) * N]))
        zero = block_scores(w, (4, 4), "abs") == 0
        assert int(zero.sum()) == blocks_to_prune(0.75, zero.numel())
    for name in ("O1", "O4"):
        zero = block_scores(torch.from_numpy(tensors[f"{name}.weight"]), (4, 4), "abs") == 0
        assert int(zero.sum()) == blocks_to_prune(0.75, zero.numel())
    dense = [k for k in tensors if k.startswith("ctx.") and k.endswith(".weight")]
    assert all(np.count_nonzero(tensors[k]) == tensors[k].size for k in dense)
    assert np.all(tensors["I.weight"][[g * N + j for g in range(3) for j in range(N // 2)], 2] == 0)
    # the file holds what the trained model computes: the reference on it = the model
    from sparsewave.train.data import load_clip

    clip = load_clip(wav_dir / "clip1.wav", MEL)
    audio = ((clip.c.astype(np.float64) * 256 + clip.f) / 32767.5 - 1)[:300]
    mels = clip.mels[:10]
    want = sref.run(tensors, cfg, mels, len(audio), audio=audio)["logits"][:len(audio)]
    np.testing.assert_allclose(res["model_obj"].double().teacher_forced_logits(mels, audio), want, atol=1e-4)


def test_resume_continues_at_the_saved_step(wav_dir, tmp_path):
    straight = train(_config(wav_dir, tmp_path / "a"))
    first = train(_config(wav_dir, tmp_path / "b", steps=4))
    ck = load_checkpoint(tmp_path / "b" / "checkpoint.pt")
    assert first["step"] == 4 and ck["step"] == 4
    assert json.loads(ck["architecture"])["arch"] == "subscale" and "ctx_in.weight" in ck["model"]
    resumed = train(_config(wav_dir, tmp_path / "b"))
    assert resumed["step"] == 6
    assert [r["event"] for r in _log(tmp_path / "b") if r["event"] in ("start", "resume")] == ["start", "resume"]
    a, b = straight["model_obj"].state_dict(), resumed["model_obj"].state_dict()
    assert set(a) == set(b)
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6)
    # another shape (or the plain model) in the same folder is refused, not silently reshaped
    with pytest.raises(ValueError, match="different model"):
        train(_config(wav_dir, tmp_path / "b", steps=7, horizon=3))
    with pytest.raises(ValueError, match="different model"):
        train(_config(wav_dir, tmp_path / "b", steps=7, arch="dual_softmax"))


def test_cli(wav_dir, tmp_path, capsys):
    mel_cfg = tmp_path / "mel.json"
    mel_cfg.write_text(json.dumps(MEL))
    out = tmp_path / "cli_run"
    common = [str(wav_dir), "--hidden", "16", "--batch", "2", "--seq-frames", "3", "--val-clips", "1",
              "--val-crops", "2", "--threads", "1", "--mel-config", str(mel_cfg), "--arch", "subscale"]
    shape = ["--sub-tensors", "4", "--horizon", "2", "--context-channels", "8", "--context-layers", "3",
             "--context-features", "2"]
    assert train_cli.main(common + shape + ["-o", str(out), "--steps", "2", "--val-every", "2", "--sparsity", "0.5",
                                            "--prune-start", "0", "--prune-steps", "2", "--prune-every", "1"]) == 0
    assert "validation" in capsys.readouterr().out
    tensors, cfg = load_model_tensors(out / "model.sw")
    assert cfg["family"] == "subscale" and {k: cfg[k] for k in SHAPE} == SHAPE and cfg["hidden"] == 16
    # the defaults of docs/subscale.md
    args = train_cli.build_parser().parse_args([str(wav_dir), "-o", "x", "--arch", "subscale"])
    assert (args.sub_tensors, args.horizon, args.context_channels, args.context_layers,
            args.context_features) == (16, 8, 64, 6, 8)
    for flag in (["--quantize", "int8"], ["--preemphasis", "0.8"], ["--feedback-noise", "0.05"]):
        assert train_cli.main(common + shape + ["-o", str(tmp_path / "bad")] + flag) == 1
        assert f"{flag[0]} is not supported with --arch subscale" in capsys.readouterr().err
    assert train_cli.main(common + ["-o", str(tmp_path / "bad"), "--sub-tensors", "65"]) == 1
    assert "sub_tensors" in capsys.readouterr().err


# ------------------------------------------------------------------------------ the engine


def test_engine_logits_equal_the_training_model(wav_dir, tmp_path):
    """Vocoder.logits of a tiny export = the training model's teacher-forced logits (needs the
    engine's family 'subscale')."""
    out = tmp_path / "eng"
    res = train(_config(wav_dir, out, steps=2, prune_start=1, prune_steps=1, prune_every=1))
    try:
        v = sparsewave.Vocoder.load(out / "model.sw")
    except Exception as e:  # noqa: BLE001 - the engine names the family it does not know
        if "unknown model family 'subscale'" in str(e):
            pytest.skip(f"the engine does not run family 'subscale' yet: {e}")
        raise
    from sparsewave.train.data import load_clip

    clip = load_clip(wav_dir / "clip2.wav", MEL)
    audio = ((clip.c.astype(np.float64) * 256 + clip.f) / 32767.5 - 1)[:999].astype(np.float32)
    mels = clip.mels[: -(-len(audio) // MEL["hop_length"])]
    want = res["model_obj"].double().teacher_forced_logits(mels, audio)
    np.testing.assert_allclose(v.logits(mels, audio), want, rtol=0, atol=1e-5)  # measured 6e-8 (float32)


# ------------------------------------------------------------------------------ Fused Subscale

FUSED = dict(SHAPE, fused=True)  # two pairs of sub-tensors, each one four-part state


@pytest.mark.parametrize("upsample", ["repeat", "conv"])
@pytest.mark.parametrize("L,frames", [(48, 8), (37, 7)], ids=["whole-grid", "padded-tail"])
def test_fused_teacher_forced_logits_equal_the_reference(upsample, L, frames, rng):
    model = _random_model(upsample, fused=True)
    assert model.parts == 4 and model.gru.input_size == 7 + 3 + SHAPE["context_features"]
    mels = rng.standard_normal((frames, 3))
    audio = np.clip(rng.standard_normal(L) * 0.4, -1, 1)
    got = model.teacher_forced_logits(mels, audio)
    tensors = export_tensors(model)
    cfg = model.family_config(8000)
    assert cfg["fused"] is True and tensors["I.weight"].shape == (48, 7) and "O8.weight" in tensors
    want = sref.run(tensors, cfg, mels, L, audio=audio)["logits"][:L]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4)
    # the comparison sees the second member's parts: swapping its heads with the first's moves it
    swapped = dict(tensors, **{"O5.weight": tensors["O1.weight"], "O6.weight": tensors["O2.weight"]})
    assert np.abs(sref.run(swapped, cfg, mels, L, audio=audio)["logits"][:L] - want).max() > 1e-2


def test_fused_reads_only_what_was_drawn_before(rng):
    """Changing sample t moves the logits of t' only if t' is generated at a later step, or at the
    same step by a later part: t itself (its fine logits see c_t) and, for a pair's first member,
    the second member."""
    B, F = SHAPE["sub_tensors"], SHAPE["horizon"]
    model = _random_model(seed=4, fused=True)
    L = 40
    mels = rng.standard_normal((7, 3))
    audio = np.clip(rng.standard_normal(L) * 0.4, -1, 1)
    base = model.teacher_forced_logits(mels, audio)
    step = np.array([(t // B) + (t % B // 2) * F for t in range(L)])
    for t0 in (0, 1, 3, 9, 22, 38):
        moved = audio.copy()
        moved[t0] = -moved[t0] if abs(moved[t0]) > 0.1 else 0.5
        changed = np.abs(model.teacher_forced_logits(mels, moved) - base).max(axis=1) > 1e-12
        partner = t0 + 1 if t0 % 2 == 0 else -1
        allowed = (step > step[t0]) | (np.arange(L) == t0) | (np.arange(L) == partner)
        assert not np.any(changed & ~allowed), np.nonzero(changed & ~allowed)
        if partner >= 0:
            assert changed[partner]  # the second member reads its partner's bytes of the step


def test_fused_tiny_run_exports_what_the_engine_runs(wav_dir, tmp_path):
    out = tmp_path / "fused"
    res = train(_config(wav_dir, out, steps=3, fused=True, prune_start=1, prune_steps=2, prune_every=1))
    assert res["step"] == 3 and math.isfinite(res["val_bits"])
    assert set(res["pruner"].names()) == {"R.u", "R.r", "R.e"} | {f"O{k}" for k in range(1, 9)}
    tensors, cfg = load_model_tensors(out / "model.sw")
    N = 16
    assert cfg["fused"] is True and {k: cfg[k] for k in SHAPE} == SHAPE
    assert tensors["I.weight"].shape == (3 * N, 7) and tensors["ctx.out.weight"].shape == (2 * 2, 8)
    for q in range(3):  # part q's byte of the step reaches only the parts after q
        rows = [g * N + j for g in range(3) for j in range((q + 1) * N // 4)]
        assert np.all(tensors["I.weight"][rows, 4 + q] == 0)
    v = sparsewave.Vocoder.load(out / "model.sw")
    from sparsewave.train.data import load_clip

    clip = load_clip(wav_dir / "clip2.wav", MEL)
    audio = ((clip.c.astype(np.float64) * 256 + clip.f) / 32767.5 - 1)[:999].astype(np.float32)
    mels = clip.mels[: -(-len(audio) // MEL["hop_length"])]
    want = res["model_obj"].double().teacher_forced_logits(mels, audio)
    np.testing.assert_allclose(v.logits(mels, audio), want, rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match="--fused needs --arch subscale"):
        train(_config(wav_dir, tmp_path / "bad", fused=True, arch="dual_softmax"))
    with pytest.raises(ValueError, match="fused"):
        SubscaleWaveRNN(16, n_mels=3, hop_length=4, **dict(FUSED, sub_tensors=3))
