"""sparsewave.train: the PyTorch dual-softmax WaveRNN, its export, gradual block pruning,
checkpoints and the command line. Tiny models on synthetic clips, CPU only, a few seconds."""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference_models import dual_softmax_numpy as ref  # noqa: E402

import sparsewave  # noqa: E402
from sparsewave.train import cli as train_cli  # noqa: E402
from sparsewave.train.data import CropSampler, find_wavs, load_clips, perturb_feedback, split_holdout  # noqa: E402
from sparsewave.train.model import DualSoftmaxWaveRNN, export_tensors, split_bytes  # noqa: E402
from sparsewave.train.prune import BlockPruner, block_scores, blocks_to_prune, scheduled_sparsity  # noqa: E402
from sparsewave.train.trainer import TrainConfig, load_checkpoint, train  # noqa: E402
from sparsewave.weights import load_model_tensors  # noqa: E402

from small_models import TINY_MEL as MEL, softmax as _softmax, write_voiced_clips  # noqa: E402


def _assert_same_probs(got, want, tol=1e-4):
    """Relative difference of the coarse and fine probabilities above 1e-6."""
    assert got.shape == want.shape
    for half in (slice(0, 256), slice(256, 512)):
        p, q = _softmax(np.asarray(got, np.float64)[:, half]), _softmax(np.asarray(want, np.float64)[:, half])
        big = q > 1e-6
        assert big.sum() > 0
        assert np.max(np.abs(p - q)[big] / q[big]) <= tol


@pytest.fixture(scope="module")
def wav_dir(tmp_path_factory):
    """Three synthetic 'voiced' clips (harmonics with a moving pitch plus noise) at 8 kHz."""
    return write_voiced_clips(tmp_path_factory.mktemp("wavs"))


def _config(wav_dir, out, **kw):
    base = dict(data=[str(wav_dir)], out=str(out), hidden=32, mel=dict(MEL), steps=6, batch=4, seq_frames=4,
                sparsity=0.75, block="4x4", prune_start=2, prune_steps=4, prune_every=2, lr=3e-3,
                val_clips=1, val_crops=4, val_every=3, log_every=1, export_every=0, checkpoint_every=0,
                threads=1, seed=3, quiet=True)
    base.update(kw)
    return TrainConfig(**base)


def _log(out):
    return [json.loads(line) for line in (Path(out) / "log.jsonl").read_text().splitlines()]


# ------------------------------------------------------------------------------ schedule


def test_schedule_formula():
    Z, t0, S = 0.9, 100, 400
    assert scheduled_sparsity(0, Z, t0, S) == 0.0
    assert scheduled_sparsity(99, Z, t0, S) == 0.0
    assert scheduled_sparsity(100, Z, t0, S) == 0.0
    for t in (150, 200, 300, 499):
        assert scheduled_sparsity(t, Z, t0, S) == pytest.approx(Z * (1 - (1 - (t - t0) / S) ** 3), abs=1e-15)
    assert scheduled_sparsity(300, Z, t0, S) == pytest.approx(0.9 * 0.875)
    assert scheduled_sparsity(500, Z, t0, S) == Z
    assert scheduled_sparsity(10 ** 6, Z, t0, S) == Z
    assert blocks_to_prune(0.5, 10) == 5 and blocks_to_prune(0.0, 7) == 0 and blocks_to_prune(0.9, 64) == 58
    assert blocks_to_prune(0.9, 4096) == 3687  # rounded up: at least 90% (3686 would be 89.99%)
    # block magnitudes: L2 and abs-sum of each tile, edge tiles padded
    w = torch.arange(1.0, 1 + 6 * 5).reshape(6, 5)
    s = block_scores(w, (4, 4), "abs")
    assert s.shape == (2, 2) and float(s[1, 1]) == float(w[4:, 4:].abs().sum())
    assert float(block_scores(w, (4, 4), "l2")[0, 0]) == pytest.approx(float(w[:4, :4].norm()))


@pytest.mark.parametrize("block", [(4, 4), (16, 1), (8, 4)], ids=["4x4", "16x1", "8x4"])
def test_masks_follow_the_schedule(block):
    """A manual loop: after each step the zero-block fraction of every pruned matrix is exactly
    the schedule's value at the last mask update, whole blocks are zero, and pruned stays pruned."""
    torch.manual_seed(0)
    model = DualSoftmaxWaveRNN(32, n_mels=4, hop_length=8)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    Z, t0, S, K = 0.8, 2, 6, 2
    pruner = BlockPruner(model, sparsity=Z, block=block, start=t0, steps=S, every=K, prune_heads=True)
    assert set(pruner.names()) == {"R.u", "R.r", "R.e", "O1", "O2", "O3", "O4"}
    g = torch.Generator().manual_seed(1)
    batch = {k: torch.randint(0, 256, (2, 16), generator=g) for k in ("c", "f", "prev_c", "prev_f")}
    batch["mels"] = torch.randn(2, 2, 4, generator=g)
    last_update, prev_masks = None, None
    for step in range(1, 11):
        opt.zero_grad()
        model.loss(batch).backward()
        opt.step()
        if pruner.step(step):
            last_update = step
        assert pruner.due(step) == (step in (2, 4, 6, 8))
        z = 0.0 if last_update is None else Z * (1 - (1 - (last_update - t0) / S) ** 3)
        assert pruner.current == pytest.approx(z, abs=1e-12)
        for name, (p, rows) in pruner.targets.items():
            w = p.detach()[rows]
            bm = pruner.block_masks[name]
            assert 1 - float(bm.float().mean()) == blocks_to_prune(z, bm.numel()) / bm.numel()
            # masked weights are zero, whole blocks at a time; kept blocks are not all zero
            zero_blocks = block_scores(w, block, "abs") == 0
            assert torch.equal(zero_blocks, ~bm)
            if prev_masks is not None:
                assert not bool((bm & ~prev_masks[name]).any())  # pruned stays pruned
        prev_masks = {n: m.clone() for n, m in pruner.block_masks.items()}
    assert pruner.current == Z
    assert list(pruner.block_masks["R.u"].shape) == [32 // block[0], 32 // block[1]]


def test_ct_column_reaches_only_the_fine_half():
    torch.manual_seed(0)
    model = DualSoftmaxWaveRNN(16, n_mels=3, hop_length=4)
    batch = {k: torch.randint(0, 256, (2, 8)) for k in ("c", "f", "prev_c", "prev_f")}
    batch["mels"] = torch.randn(2, 2, 3)
    model.loss(batch).backward()
    N, half = 16, 8
    for gate in range(3):
        rows = slice(gate * N, gate * N + half)
        assert torch.all(model.gru.weight_ih_l0[rows, 2] == 0)
        assert torch.all(model.gru.weight_ih_l0.grad[rows, 2] == 0)
        assert torch.any(model.gru.weight_ih_l0.grad[gate * N + half:(gate + 1) * N, 2] != 0)
    t = export_tensors(model)
    assert t["I.weight"].shape == (48, 3) and t["cond.weight"].shape == (48, 3)
    assert np.all(t["cond.bias"] == 0)
    # file order (u, r, e) = PyTorch (z, r, n)
    w = model.gru.weight_hh_l0.detach().numpy()
    np.testing.assert_array_equal(t["R.weight"][:N], w[N:2 * N])
    np.testing.assert_array_equal(t["R.weight"][N:2 * N], w[:N])
    np.testing.assert_array_equal(t["R.weight"][2 * N:], w[2 * N:])


@pytest.mark.parametrize("upsample", ["repeat", "conv"])
def test_pytorch_model_matches_numpy_reference(upsample, rng):
    """The GRU formulation computes the paper's equations (float64 NumPy reference)."""
    torch.manual_seed(1)
    kw = dict(upsample="conv", upsample_kernel=5, learn_upsample=True) if upsample == "conv" else {}
    model = DualSoftmaxWaveRNN(24, n_mels=5, hop_length=6, **kw).double()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
        model.gru.weight_ih_l0.mul_(model.ih_mask)
    mels = rng.standard_normal((9, 5))
    audio = np.clip(rng.standard_normal(50) * 0.4, -1, 1)
    got = model.teacher_forced_logits(mels, audio)
    tensors = export_tensors(model.float())
    cfg = {"hidden": 24, "hop_length": 6, "upsample": upsample}
    want, *_ = ref.run(tensors, cfg, mels, audio=audio)
    _assert_same_probs(got, want, 1e-4)
    c, f = split_bytes(audio)
    rc, rf = ref.split_bytes(audio)
    assert np.array_equal(c, rc) and np.array_equal(f, rf)


# ------------------------------------------------------------------------------ training runs


def test_holdout_is_deterministic(wav_dir):
    files = find_wavs([wav_dir])
    assert [f.name for f in files] == ["clip0.wav", "clip1.wav", "clip2.wav"]
    tr, val = split_holdout(files, 1)
    assert [f.name for f in val] == ["clip0.wav"] and len(tr) == 2
    assert split_holdout(find_wavs([wav_dir]), 1) == (tr, val)


@pytest.mark.parametrize("block,upsample", [("4x4", "repeat"), ("16x1", "conv")])
def test_tiny_run_exports_an_equivalent_sparse_model(wav_dir, tmp_path, block, upsample):
    kw = dict(upsample="conv", upsample_kernel=9, learn_upsample=True) if upsample == "conv" else {}
    out = tmp_path / "run"
    res = train(_config(wav_dir, out, block=block, **kw))
    assert res["step"] == 6
    assert math.isfinite(res["val_bits"]) and 0 < res["val_bits"] < 16
    log = _log(out)
    vals = [r for r in log if r.get("event") == "val"]
    assert [r["step"] for r in vals] == [3, 6] and all(math.isfinite(r["val_bits"]) for r in vals)
    trains = {r["step"]: r for r in log if r.get("event") == "train"}
    assert sorted(trains) == [1, 2, 3, 4, 5, 6]
    # scheduled sparsity after steps 1..6 (updates at 2, 4, 6 = t0 + S)
    for step, z in {1: 0.0, 2: 0.0, 3: 0.0, 4: 0.75 * (1 - 0.5 ** 3), 5: 0.75 * 0.875, 6: 0.75}.items():
        assert trains[step]["sparsity"] == pytest.approx(z, abs=1e-6)
        assert math.isfinite(trains[step]["train_bits"]) and trains[step]["steps_per_s"] > 0
    assert (out / "validation.txt").read_text().strip().endswith("clip0.wav")

    # the exported file: sparse R in whole blocks, config records block and mel
    model = res["model_obj"]
    tensors, cfg = load_model_tensors(out / "model.sw")
    br, bc = (int(v) for v in block.split("x"))
    assert cfg["family"] == "dual_softmax" and cfg["block"] == [br, bc] and cfg["mel"] == MEL
    assert cfg["hop_length"] == MEL["hop_length"] and cfg["sample_rate"] == MEL["sample_rate"]
    assert cfg["upsample"] == upsample and cfg["training"]["step"] == 6
    N = 32
    for gate in range(3):
        w = torch.from_numpy(tensors["R.weight"][gate * N:(gate + 1) * N])
        zero = block_scores(w, (br, bc), "abs") == 0
        assert int(zero.sum()) == blocks_to_prune(0.75, zero.numel())
        # masked weights are exactly zero, and nowhere else are whole blocks zero
        assert float((w == 0).float().mean()) == pytest.approx(float(zero.float().mean()), abs=0.02)
    for name, (p, rows) in res["pruner"].targets.items():
        assert torch.all(p.detach()[rows][~res["pruner"].masks[name]] == 0)
    assert np.all(tensors["I.weight"][[g * N + j for g in range(3) for j in range(N // 2)], 2] == 0)
    assert "R.bias" in tensors

    # the engine gives the PyTorch model's teacher-forced probabilities
    v = sparsewave.Vocoder.load(out / "model.sw")
    assert v.sample_rate == 8000 and v.hop_length == 32 and v.n_mels == 12
    from sparsewave.train.data import load_clip

    clip_path = wav_dir / "clip1.wav"
    clip = load_clip(clip_path, MEL)
    audio = (clip.c.astype(np.float64) * 256 + clip.f) / 32767.5 - 1  # the bytes' own values
    audio = audio[:1200].astype(np.float32)
    mels = clip.mels[: -(-len(audio) // 32)]
    got = v.logits(mels, audio)
    want = model.double().teacher_forced_logits(mels, audio)
    _assert_same_probs(got, want, 1e-4)
    # and the same NLL
    c, f = split_bytes(audio)
    lp = (np.log2(_softmax(want[:, :256])[np.arange(len(c)), c])
          + np.log2(_softmax(want[:, 256:])[np.arange(len(c)), f]))
    assert v.nll(mels, audio) == pytest.approx(-lp.mean(), rel=1e-4)


def test_preemphasis_run_exports_a_model_the_engine_scores_the_same(wav_dir, tmp_path):
    """--preemphasis: the model learns the bytes of y = x - a x[n-1]; the export records a, so the
    engine pre-emphasises the audio it scores exactly as the trainer did."""
    from sparsewave.train.data import load_clip
    from sparsewave.train.model import preemphasize

    a = 0.86
    res = train(_config(wav_dir, tmp_path / "pre", steps=3, preemphasis=a, feedback_noise=0.02))
    v = sparsewave.Vocoder.load(tmp_path / "pre" / "model.sw")
    assert v.config["preemphasis"] == a and v.preemphasis == pytest.approx(a)
    clip_path = wav_dir / "clip2.wav"
    plain, emph = load_clip(clip_path, MEL), load_clip(clip_path, MEL, preemphasis=a)
    np.testing.assert_array_equal(plain.mels, emph.mels)  # mels of the audio itself
    from sparsewave.train.data import read_wav

    c, f = split_bytes(preemphasize(read_wav(clip_path, MEL["sample_rate"]), a))
    assert np.array_equal(c, emph.c) and np.array_equal(f, emph.f)
    audio = ((plain.c.astype(np.float64) * 256 + plain.f) / 32767.5 - 1)[:900].astype(np.float32)
    mels = plain.mels[: -(-len(audio) // 32)]
    want = res["model_obj"].double().teacher_forced_logits(mels, audio, preemphasis=a)
    _assert_same_probs(v.logits(mels, audio), want, 1e-4)
    with pytest.raises(ValueError, match="preemphasis"):
        train(_config(wav_dir, tmp_path / "bad", steps=1, preemphasis=1.0))


# ------------------------------------------------------------------------------ feedback noise


def _decode(c, f):
    return (np.asarray(c, np.int64) * 256 + np.asarray(f, np.int64)) / 32767.5 - 1.0


@pytest.mark.parametrize("std", [0.0, 0.003, 0.03])
def test_feedback_noise_has_the_asked_spread(std):
    rng = np.random.default_rng(11)
    x = np.clip(0.3 * rng.standard_normal(200_000), -0.9, 0.9)
    c, f = split_bytes(x)
    nc, nf = perturb_feedback(c, f, std, np.random.default_rng(5))
    assert nc.min() >= 0 and nc.max() <= 255 and nf.min() >= 0 and nf.max() <= 255
    d = _decode(nc, nf) - _decode(c, f)
    if std == 0.0:
        assert np.array_equal(nc, c) and np.array_equal(nf, f)
    else:
        assert abs(d.std() / std - 1.0) < 0.02 and abs(d.mean()) < 0.05 * std
    # full-scale samples stay in range (clipped, not wrapped)
    ec, ef = perturb_feedback(np.array([0, 255]), np.array([0, 255]), 0.5, np.random.default_rng(1))
    assert ec.min() >= 0 and ec.max() <= 255


def test_coarse_only_feedback_noise_keeps_the_fine_bytes():
    rng = np.random.default_rng(12)
    c, f = split_bytes(np.clip(0.3 * rng.standard_normal(100_000), -0.9, 0.9))
    std = 0.03  # 3.84 coarse steps
    nc, nf = perturb_feedback(c, f, std, np.random.default_rng(6), coarse_only=True)
    assert np.array_equal(nf, f) and nc.min() >= 0 and nc.max() <= 255
    steps = nc.astype(np.int64) - c
    assert abs(steps.std() / (std * 32767.5 / 256) - 1.0) < 0.03 and abs(steps.mean()) < 0.05
    assert not np.array_equal(nc, c)


def test_feedback_noise_touches_only_the_fed_back_bytes(wav_dir):
    clips = load_clips(find_wavs([wav_dir]), MEL, min_frames=4)
    clean = CropSampler(clips, frames=4, batch=8, hop=MEL["hop_length"], rng=np.random.default_rng(2)).sample()
    noisy = CropSampler(clips, frames=4, batch=8, hop=MEL["hop_length"], rng=np.random.default_rng(2),
                        feedback_noise=0.05).sample()
    # the same crops (the noise is drawn after the crop positions), the same targets and mels
    for k in ("c", "f", "mels"):
        assert torch.equal(clean[k], noisy[k])
    assert not torch.equal(clean["prev_f"], noisy["prev_f"])
    # the clean sampler's fed-back bytes are the targets shifted by one
    assert torch.equal(clean["prev_c"][:, 1:], clean["c"][:, :-1])
    with pytest.raises(ValueError, match="feedback_noise"):
        CropSampler(clips, frames=4, batch=2, hop=MEL["hop_length"], feedback_noise=float("nan"))


def test_resume_continues_at_the_saved_step(wav_dir, tmp_path):
    straight = train(_config(wav_dir, tmp_path / "a", steps=6))
    first = train(_config(wav_dir, tmp_path / "b", steps=4))
    assert first["step"] == 4
    ck = load_checkpoint(tmp_path / "b" / "checkpoint.pt")
    assert ck["step"] == 4 and set(ck["model"]) >= {"gru.weight_hh_l0", "O1.weight"}
    resumed = train(_config(wav_dir, tmp_path / "b", steps=6))
    assert resumed["step"] == 6
    log = _log(tmp_path / "b")
    assert [r["step"] for r in log if r["event"] in ("start", "resume")] == [0, 4]
    assert [r["event"] for r in log if r["event"] in ("start", "resume")] == ["start", "resume"]
    assert [r["step"] for r in log if r["event"] == "train"] == [1, 2, 3, 4, 5, 6]
    # data order, optimizer state and masks restored: same weights as the uninterrupted run
    a, b = straight["model_obj"].state_dict(), resumed["model_obj"].state_dict()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6)
    # running again with nothing left to do re-exports and stops at once
    assert train(_config(wav_dir, tmp_path / "b", steps=6))["step"] == 6


def test_cli(wav_dir, tmp_path, capsys):
    mel_cfg = tmp_path / "mel.json"
    mel_cfg.write_text(json.dumps(MEL))
    out = tmp_path / "cli_run"
    args = [str(wav_dir), "-o", str(out), "--hidden", "16", "--steps", "3", "--batch", "2", "--seq-frames", "3",
            "--sparsity", "0.5", "--block", "16x1", "--prune-start", "0", "--prune-steps", "2", "--prune-every", "1",
            "--val-clips", "1", "--val-crops", "2", "--val-every", "3", "--log-every", "1", "--threads", "1",
            "--mel-config", str(mel_cfg), "--export-every", "2", "--checkpoint-every", "2", "--feedback-noise", "0.05"]
    assert train_cli.main(args) == 0
    text = capsys.readouterr().out
    assert "steps/s" in text and "ETA" in text and "validation" in text
    assert (out / "model.sw").is_file() and (out / "checkpoint.pt").is_file()
    v = sparsewave.Vocoder.load(out / "model.sw")
    assert v.config["block"] == [16, 1] and v.config["hidden"] == 16
    # Step 2's export falls on a mask update (every step up to 2 updates): it waits a step,
    # which is the last, so the end's export is the only one.
    assert [r["step"] for r in _log(out) if r["event"] == "export"] == [3]
    assert _log(out)[0]["options"]["feedback_noise"] == 0.05
    for bad in ("-0.1", "nan", "2"):
        with pytest.raises(SystemExit):
            train_cli.main([str(wav_dir), "-o", str(out), "--feedback-noise", bad])
    with pytest.raises(SystemExit) as e:
        train_cli.main([str(wav_dir), "-o", str(out), "--block", "8x8"])
    assert e.value.code == 2
    assert train_cli.main([str(tmp_path / "missing"), "-o", str(tmp_path / "x"), "--mel-config", str(mel_cfg)]) == 1


def test_log_names_no_absolute_paths(wav_dir, tmp_path):
    # The log travels with the run folder (and may be committed): paths are relative to it.
    out = tmp_path / "portable_run"
    train(_config(wav_dir, out, steps=2, export_every=1))
    text = (out / "log.jsonl").read_text()
    assert str(tmp_path) not in text and '"/' not in text
    start = _log(out)[0]
    assert "out" not in start["options"]
    assert [(out / d).resolve() for d in start["options"]["data"]] == [Path(wav_dir).resolve()]
    assert {r["path"] for r in _log(out) if r["event"] == "export"} == {"model.sw"}
