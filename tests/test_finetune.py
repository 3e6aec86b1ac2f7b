"""Fine-tuning (``sparsewave train --init MODEL.sw``): the PyTorch fatchord-family model against the
engine, a few training steps from tiny files of both families, re-pruning into blocks, freezing,
resuming. CPU only, tiny models, a few seconds each."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference_models import wavernn_numpy as W  # noqa: E402
from small_models import TINY_MEL, torch_like_params, voiced_wave, write_voiced_clips  # noqa: E402

import sparsewave  # noqa: E402
from sparsewave.audio.mel import mel_spectrogram  # noqa: E402
from sparsewave.train import cli as train_cli  # noqa: E402
from sparsewave.train.fatchord_model import FatchordWaveRNN, label_values, labels_of  # noqa: E402
from sparsewave.train.model import DualSoftmaxWaveRNN, export_model, model_from_file  # noqa: E402
from sparsewave.train.trainer import TrainConfig, load_checkpoint, train  # noqa: E402
from sparsewave.weights import load_model_tensors, save_model  # noqa: E402

MEL = TINY_MEL
RATE = MEL["sample_rate"]


def _geneing_like(bits=6, mu_law=False, rnn=32, fc=32) -> dict:
    """geneing's variant (1 GRU, fc1 + fc3, aux in 2 chunks), small, hop 32 = 4 x 8."""
    return {
        "family": "fatchord", "variant": "geneing", "sample_rate": RATE, "n_mels": 12, "hop_length": 32,
        "pad": 2, "upsample_factors": [4, 8], "upsample_kernel_sizes": [9, 17], "res_blocks": 2,
        "compute_dims": 16, "res_out_dims": 16, "bn_eps": 1e-5, "rnn_dims": rnn, "fc_dims": fc, "n_rnn": 1,
        "fc_names": ["fc1", "fc3"], "n_fc": 2, "aux_slices": {"I": [0, 7], "fc1": [8, 16]},
        "head": "softmax", "bits": bits, "n_classes": 2 ** bits, "mu_law": mu_law, "mel": dict(MEL),
    }


def _fatchord_like() -> dict:
    """fatchord's variant (2 GRUs with residuals, fc1/fc2/fc3, aux in 4 chunks), 9-bit mu-law."""
    cfg = W.config_fatchord("RAW", {"voc_rnn_dims": 32, "voc_fc_dims": 32, "voc_compute_dims": 16,
                                    "voc_res_out_dims": 16, "voc_res_blocks": 1, "voc_upsample_factors": [4, 8],
                                    "hop_length": 32, "num_mels": 12, "voc_pad": 2, "sample_rate": RATE})
    cfg["mel"] = dict(MEL)
    return cfg


def _random_params(cfg: dict, seed: int, density: float | None = None) -> dict:
    """PyTorch-like weights; with ``density``, pruned in 1x4 column groups (geneing's own pattern,
    which fine-tuning must turn into blocks), I included."""
    return torch_like_params(cfg, seed, None if density is None else (1, 4, density), prune_input_layer=True)


@pytest.fixture(scope="module")
def wav_dir(tmp_path_factory):
    return write_voiced_clips(tmp_path_factory.mktemp("ft_wavs"), seed=11, envelope=False, amplitude=0.8)


def _softmax(z):
    z = np.asarray(z, np.float64)
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _assert_same_probs(got, want, tol=1e-4):
    p, q = _softmax(got), _softmax(want)
    big = q > 1e-6
    assert big.sum() > 0
    assert np.max(np.abs(p - q)[big] / q[big]) <= tol


def _clip(seconds=0.3, seed=0):
    rng = np.random.default_rng(seed)
    return np.clip(voiced_wave(int(seconds * RATE), 180.0, rng, amplitude=0.8), -1, 1).astype(np.float32)


# --------------------------------------------------------------------------- the model itself


@pytest.mark.parametrize("make", [lambda: _geneing_like(), lambda: _geneing_like(bits=8, mu_law=True),
                                  _fatchord_like], ids=["geneing_linear", "geneing_mulaw", "fatchord_2gru"])
def test_torch_model_matches_the_engine_teacher_forced(tmp_path, make):
    cfg = make()
    path = save_model(tmp_path / "m.sw", _random_params(cfg, 1, 0.3), cfg)
    model = FatchordWaveRNN.from_file(path)
    audio = _clip()
    mels = mel_spectrogram(audio, cfg["mel"])
    n = min(len(audio), mels.shape[0] * cfg["hop_length"])
    engine = sparsewave.Vocoder.load(path).logits(mels, audio[:n])
    _assert_same_probs(model.teacher_forced_logits(mels, audio[:n]), engine)


def test_labels_and_fed_values_match_the_reference():
    x = np.linspace(-1, 1, 2001).astype(np.float32)
    assert np.array_equal(labels_of(x, 1024, False), W.float_to_label(x, 10))
    k = np.arange(1024)
    assert np.allclose(label_values(k, 1024), W.label_to_float(k, 10), atol=1e-6)


def test_mixture_of_logistics_head_is_refused_clearly():
    cfg = W.config_fatchord("MOL", {"voc_rnn_dims": 16, "voc_fc_dims": 16, "voc_compute_dims": 8,
                                    "voc_res_out_dims": 8, "voc_res_blocks": 1, "voc_upsample_factors": [4, 8],
                                    "hop_length": 32, "num_mels": 12})
    with pytest.raises(ValueError, match="softmax head"):
        FatchordWaveRNN(cfg)


def test_batch_norm_stays_in_eval_mode_while_training():
    model = FatchordWaveRNN(_geneing_like()).train()
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    assert bns and not any(m.training for m in bns)
    assert model.I.training


# --------------------------------------------------------------------------- fine-tuning runs


def _ft_config(wav_dir, out, init, **kw):
    base = dict(data=[str(wav_dir)], out=str(out), init=str(init), steps=6, batch=4, seq_frames=4,
                sparsity=0.75, block="16x1", prune_heads=True, prune_start=0, prune_steps=4, prune_every=2, lr=1e-3,
                val_clips=1, val_crops=4, val_every=3, log_every=1, export_every=0, checkpoint_every=0,
                threads=1, seed=3, quiet=True)
    base.update(kw)
    return TrainConfig(**base)


def test_finetune_reprunes_into_blocks_and_exports_what_it_trained(wav_dir, tmp_path):
    cfg = _geneing_like()
    init = save_model(tmp_path / "init.sw", _random_params(cfg, 2, 0.4), cfg)
    res = train(_ft_config(wav_dir, tmp_path / "run", init))
    assert res["step"] == 6
    # masks at the scheduled (final) sparsity, in whole 16x1 blocks
    for name, z in res["block_sparsity"].items():
        assert z == pytest.approx(0.75, abs=0.03), name
    tensors, exported_cfg = load_model_tensors(res["model"])
    w = tensors["rnn1.weight_hh_l0"]
    blocks = np.abs(w).reshape(w.shape[0] // 16, 16, w.shape[1]).max(axis=1)
    assert (blocks == 0).mean() == pytest.approx(0.75, abs=0.03)
    assert exported_cfg["training"]["recipe"] == "sparsewave.train --init"
    assert exported_cfg["mel"] == cfg["mel"] and exported_cfg["rnn_dims"] == cfg["rnn_dims"]
    # the engine runs the export exactly as PyTorch computes it
    voc = sparsewave.Vocoder.load(res["model"])
    loop = [m for m in voc.describe()["matrices"] if m["per_sample"]]
    assert loop and all(m["block"] == [16, 1] for m in loop)  # stored in exactly the pruned blocks
    for m in loop:
        assert m["density"] == pytest.approx(0.25, abs=0.03), m["name"]
    assert voc.loop_macs[1] == sum(m["stored_values"] for m in loop)
    audio = _clip(seed=5)
    mels = mel_spectrogram(audio, cfg["mel"])
    n = min(len(audio), mels.shape[0] * cfg["hop_length"])
    trained = res["model_obj"].cpu().eval()
    _assert_same_probs(trained.teacher_forced_logits(mels, audio[:n]), voc.logits(mels, audio[:n]))
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert any(r["event"] == "val" for r in log) and log[0]["options"]["init"].endswith("init.sw")


def test_freeze_conditioning_keeps_the_conditioning_network(wav_dir, tmp_path):
    cfg = _geneing_like()
    init = save_model(tmp_path / "init.sw", _random_params(cfg, 4), cfg, pack_sparse=False)
    res = train(_ft_config(wav_dir, tmp_path / "run", init, freeze="conditioning", sparsity=0.5))
    before, _ = load_model_tensors(init)
    after, _ = load_model_tensors(res["model"])
    for name in before:
        same = np.array_equal(before[name], after[name])
        assert same == name.startswith("upsample."), name


def test_finetune_resumes_as_a_finetune(wav_dir, tmp_path):
    cfg = _fatchord_like()
    init = save_model(tmp_path / "init.sw", _random_params(cfg, 6), cfg)
    out = tmp_path / "run"
    train(_ft_config(wav_dir, out, init, steps=4, checkpoint_every=2))
    assert load_checkpoint(out / "checkpoint.pt")["step"] == 4
    rc = train_cli.main([str(wav_dir), "-o", str(out), "--steps", "6", "--batch", "4", "--seq-frames", "4",
                         "--sparsity", "0.75", "--block", "16x1", "--prune-heads", "--val-clips", "1",
                         "--val-crops", "4", "--threads", "1", "-q"])
    assert rc == 0
    events = [json.loads(line)["event"] for line in (out / "log.jsonl").read_text().splitlines()]
    assert "resume" in events
    _, exported = load_model_tensors(out / "model.sw")
    assert exported["family"] == "fatchord" and exported["n_rnn"] == 2


def test_finetune_of_a_dual_softmax_file(wav_dir, tmp_path):
    model = DualSoftmaxWaveRNN(32, n_mels=12, hop_length=32)
    path = export_model(model, tmp_path / "ds.sw", sample_rate=RATE, block=(4, 4), mel=MEL)
    loaded, cfg = model_from_file(path)
    audio = _clip()
    mels = mel_spectrogram(audio, MEL)
    n = min(len(audio), mels.shape[0] * 32)
    np.testing.assert_allclose(loaded.teacher_forced_logits(mels, audio[:n]),
                               model.teacher_forced_logits(mels, audio[:n]), rtol=0, atol=1e-6)
    res = train(_ft_config(wav_dir, tmp_path / "run", path, block="4x4", prune_heads=False, steps=3))
    assert sparsewave.Vocoder.load(res["model"]).family == "dual_softmax"


def test_init_errors_are_clear(wav_dir, tmp_path):
    with pytest.raises(FileNotFoundError, match="no such model file"):
        train(_ft_config(wav_dir, tmp_path / "a", tmp_path / "missing.sw"))
    cfg = _geneing_like()
    init = save_model(tmp_path / "init.sw", _random_params(cfg, 2), cfg)
    with pytest.raises(ValueError, match="freeze"):
        train(_ft_config(wav_dir, tmp_path / "b", init, freeze="everything"))


def test_keep_masks_holds_the_init_models_zero_pattern(wav_dir, tmp_path):
    cfg = _geneing_like()
    init = save_model(tmp_path / "init.sw", _random_params(cfg, 8, 0.3), cfg)
    res = train(_ft_config(wav_dir, tmp_path / "run", init, keep_masks=True, steps=4))
    before, _ = load_model_tensors(init)
    after, _ = load_model_tensors(res["model"])
    for name in ("I.weight", "rnn1.weight_ih_l0", "rnn1.weight_hh_l0", "fc1.weight", "fc3.weight"):
        assert np.array_equal(after[name] == 0, before[name] == 0), name  # same zeros, none revived
        assert not np.array_equal(after[name], before[name]), name        # and it did train


def test_prune_only_reprunes_some_matrices_and_the_rest_keep_their_zeros(wav_dir, tmp_path):
    cfg = _geneing_like()
    init = save_model(tmp_path / "init.sw", _random_params(cfg, 9, 0.3), cfg)
    res = train(_ft_config(wav_dir, tmp_path / "run", init, prune_only=("rnn1.hh", "fc1"), steps=4))
    assert sorted(res["block_sparsity"]) == ["fc1", "rnn1.hh.n", "rnn1.hh.r", "rnn1.hh.z"]
    before, _ = load_model_tensors(init)
    after, _ = load_model_tensors(res["model"])
    for name in ("I.weight", "rnn1.weight_ih_l0", "fc3.weight"):  # not re-pruned: same zeros, still trained
        assert np.array_equal(after[name] == 0, before[name] == 0), name
        assert not np.array_equal(after[name], before[name]), name
    w = after["rnn1.weight_hh_l0"]  # re-pruned into whole 16x1 blocks
    blocks = np.abs(w).reshape(w.shape[0] // 16, 16, w.shape[1]).max(axis=1)
    assert (blocks == 0).mean() == pytest.approx(0.75, abs=0.03)
    ck = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert "kept" in ck["pruner"]  # resumable with the kept patterns


def test_a_checkpoint_without_kept_patterns_asks_for_a_fresh_start(wav_dir, tmp_path):
    import torch

    cfg = _geneing_like()
    init = save_model(tmp_path / "init.sw", _random_params(cfg, 9, 0.3), cfg)
    out = tmp_path / "run"
    train(_ft_config(wav_dir, out, init, prune_only=("rnn1.hh",), steps=2))
    ck = load_checkpoint(out / "checkpoint.pt")
    del ck["pruner"]["kept"]  # as written before --init runs kept the other matrices' zeros
    torch.save(ck, out / "checkpoint.pt")
    with pytest.raises(ValueError, match="no kept zero patterns for I, .*fc3.*--fresh"):
        train(_ft_config(wav_dir, out, init, prune_only=("rnn1.hh",), steps=4))


def test_prune_only_names_a_matrix_that_exists(wav_dir, tmp_path):
    cfg = _geneing_like()
    init = save_model(tmp_path / "init.sw", _random_params(cfg, 2), cfg)
    with pytest.raises(ValueError, match="'rnn1.hx' names none.*rnn1.hh.r"):
        train(_ft_config(wav_dir, tmp_path / "run", init, prune_only=("rnn1.hx",)))


def test_keep_masks_needs_an_init(wav_dir, tmp_path):
    cfg = _ft_config(wav_dir, tmp_path / "run", "x.sw", keep_masks=True)
    cfg.init = None
    with pytest.raises(ValueError, match="--init"):
        train(cfg)


# --------------------------------------------------------------------------- quantization-aware fine-tuning


def _per_step_prob_error(got, want):
    """Each step's largest relative difference of the probabilities above 1e-6."""
    p, q = _softmax(got), _softmax(want)
    return np.where(q > 1e-6, np.abs(p - q) / np.maximum(q, 1e-30), 0.0).max(axis=1)


def _assert_qat_matches(got, want):
    """The QAT forward against the int8 engine: equal to float rounding, except that a state
    value lying within float error of a rounding boundary can round the other way, moving a
    few steps (measured: 3-4 of 2,400) until the recurrence forgets it."""
    err = _per_step_prob_error(got, want)
    assert np.median(err) <= 1e-5 and np.mean(err > 1e-4) <= 0.005, (np.median(err), np.mean(err > 1e-4))


@pytest.mark.parametrize("make", [lambda: _geneing_like(bits=8), _fatchord_like], ids=["geneing", "fatchord_2gru"])
def test_qat_forward_is_the_engines_int8_teacher_forced(tmp_path, make):
    """With ``quantize="int8"`` the PyTorch model computes what ``Vocoder.load(weights="int8")``
    computes; the float forward differs from it by far more than the check's tolerance."""
    cfg = make()
    path = save_model(tmp_path / "m.sw", _random_params(cfg, 2, 0.3), cfg)
    model = FatchordWaveRNN.from_file(path)
    v8 = sparsewave.Vocoder.load(path, weights="int8")
    int8_names = {m["name"].split(" ")[0].replace(".weight_hh", ".weight_hh_l0").replace(".weight_ih", ".weight_ih_l0")
                  for m in v8.describe()["matrices"] if m["dtype"] == "int8"}
    model.quantize = "int8"
    assert set(model.engine_int8_columns()) == int8_names and int8_names  # the same products run int8
    audio = _clip(seed=3)
    mels = mel_spectrogram(audio, cfg["mel"])
    n = min(len(audio), mels.shape[0] * cfg["hop_length"])
    qat = model.teacher_forced_logits(mels, audio[:n])
    _assert_qat_matches(qat, v8.logits(mels, audio[:n]))
    model.quantize = None
    # quantization really is in the QAT forward: it moves every step far past the check's tolerance
    assert np.median(_per_step_prob_error(model.teacher_forced_logits(mels, audio[:n]), qat)) > 1e-3
    with pytest.raises(ValueError, match="quantize"):
        model.quantize = "int4"


def test_qat_finetune_of_a_fatchord_model_exports_what_it_trained(wav_dir, tmp_path):
    cfg = _geneing_like(bits=8)
    init = save_model(tmp_path / "init.sw", _random_params(cfg, 4, 0.3), cfg)
    res = train(_ft_config(wav_dir, tmp_path / "qat", init, steps=2, keep_masks=True, quantize="int8"))
    model = res["model_obj"]
    assert model.quantize == "int8" and model.engine_int8_columns()
    out = tmp_path / "qat" / "model.sw"
    v8 = sparsewave.Vocoder.load(out, weights="int8")
    assert v8.config["training"]["quantized_training"] == "int8"
    audio = _clip(seed=5)
    mels = mel_spectrogram(audio, cfg["mel"])
    n = min(len(audio), mels.shape[0] * cfg["hop_length"])
    _assert_qat_matches(model.teacher_forced_logits(mels, audio[:n]), v8.logits(mels, audio[:n]))


def test_prune_only_option_parses_a_comma_list():
    args = train_cli.build_parser().parse_args(["d", "-o", "o", "--prune-only", "rnn1.hh, fc1"])
    assert args.prune_only == ("rnn1.hh", "fc1")
    assert train_cli.config_from_args(args).prune_only == ("rnn1.hh", "fc1")
    with pytest.raises(SystemExit):
        train_cli.build_parser().parse_args(["d", "-o", "o", "--prune-only", " , "])


def test_validation_due_on_a_mask_update_waits_half_an_interval():
    from sparsewave.train.prune import AfterMaskUpdates

    timing = AfterMaskUpdates(prune_every=4)  # masks updated at 0, 4, 8; validation due every 4 steps
    taken = [s for s in range(1, 13) if timing.due(s, s % 4 == 0, pruned_now=s in (4, 8), last_step=12)]
    assert taken == [6, 10, 12]  # 4 and 8 fall on updates: 2 steps later; 12 is past the schedule
    one_step = AfterMaskUpdates(prune_every=1)  # every step updates: deferred once, then taken anyway
    assert [s for s in range(1, 6) if one_step.due(s, s % 2 == 0, pruned_now=True, last_step=5)] == [3, 5]
    last = AfterMaskUpdates(prune_every=10)  # never past the run's last step
    assert [s for s in range(1, 5) if last.due(s, s == 3, pruned_now=s == 3, last_step=4)] == [4]


def test_finetune_validates_between_mask_updates(wav_dir, tmp_path):
    cfg = _geneing_like()
    init = save_model(tmp_path / "init.sw", _random_params(cfg, 2, 0.4), cfg)
    train(_ft_config(wav_dir, tmp_path / "run", init, steps=8, prune_steps=6, prune_every=2, val_every=2))
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    vals = [(r["step"], r["steps_since_mask_update"]) for r in log if r["event"] == "val"]
    # masks update at 0, 2, 4, 6: the validations due at 2, 4, 6 run a step later; 8 is the end
    assert vals == [(3, 1), (5, 1), (7, None), (8, None)]
