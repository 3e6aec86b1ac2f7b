"""Checkpoint converters: converted models must compute what the original weights compute.

Random weights in the exact fatchord layout (MOL and RAW; names and shapes from
``fatchord_state_dict_layout.json`` when the shared data is present) and in the
geneing layout are saved the ways the trainers save them (.npz always; .pt
with torch: fatchord ``model.save()``, Coqui checkpoint dicts, geneing
checkpoints), converted, loaded in the engine, and the engine's teacher-forced
logits are compared with the float64 NumPy reference. Also: the real geneing
``model.bin`` converts to exactly ``state_dict.pt``; hostile pickles are refused
without running; wrong kinds of files give clear errors.
"""
from __future__ import annotations

import json
import os
import pickle
import sys
import types
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference_models import wavernn_numpy as W  # noqa: E402

from sparsewave import Vocoder  # noqa: E402
from sparsewave.converters import convert, detect_source, expected_shapes, read_checkpoint  # noqa: E402
from sparsewave.weights import load_model_tensors  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data"
LAYOUT = DATA / "fatchord_layout" / "fatchord_state_dict_layout.json"
GENEING = DATA / "wavernn_geneing_mailabs"

try:
    import torch
except ImportError:  # CI without torch: the .pt tests skip, the rest runs
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")

GENEING_CFG = {
    "family": "fatchord", "variant": "geneing", "sample_rate": 16000, "n_mels": 80, "hop_length": 200, "pad": 2,
    "upsample_factors": [4, 5, 10], "upsample_kernel_sizes": [9, 11, 21], "res_blocks": 3, "compute_dims": 64,
    "res_out_dims": 64, "bn_eps": 1e-5, "rnn_dims": 256, "fc_dims": 128, "n_rnn": 1, "fc_names": ["fc1", "fc3"],
    "n_fc": 2, "aux_slices": {"I": [0, 31], "fc1": [32, 64]}, "head": "softmax", "bits": 10, "n_classes": 1024,
    "mu_law": False,
}


# --------------------------------------------------------------------------- random checkpoints


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    """The float64 reference does many small matrix-vector products: a multi-threaded BLAS only
    spins on them (10x slower on a busy 2-core machine)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def fatchord_layout(mode: str) -> dict[str, tuple[int, ...]]:
    """name -> shape of fatchord's state_dict (incl. 'step' and num_batches_tracked), in state_dict order."""
    if LAYOUT.is_file():
        return {k: tuple(v) for k, v in json.loads(LAYOUT.read_text())[mode].items()}
    layout = {"step": (1,)}
    for name, shape in W.expected_shapes(W.config_fatchord(mode)).items():
        layout[name] = shape
        if name.endswith("running_var"):
            layout[name[: -len("running_var")] + "num_batches_tracked"] = ()
    return layout


def random_state_dict(layout, seed: int, density: float = 0.3) -> dict[str, np.ndarray]:
    """PyTorch-like random init; big matrices pruned in 1x4 groups (as geneing's are)."""
    rng = np.random.default_rng(seed)
    sd = {}
    for name, shape in layout.items():
        if name == "step":
            sd[name] = np.array([123456], dtype=np.int64)
        elif name.endswith("num_batches_tracked"):
            sd[name] = np.array(1000, dtype=np.int64)
        elif name.endswith("running_var"):
            sd[name] = rng.uniform(0.5, 1.5, shape).astype(np.float32)
        elif name.endswith("running_mean"):
            sd[name] = (0.1 * rng.standard_normal(shape)).astype(np.float32)
        elif "batch_norm" in name:
            base = 1.0 if name.endswith("weight") else 0.0
            sd[name] = (base + 0.1 * rng.standard_normal(shape)).astype(np.float32)
        elif name.startswith("upsample.up_layers"):
            k = shape[-1]
            sd[name] = (1.0 / k + 0.02 * rng.standard_normal(shape)).astype(np.float32)
        else:
            fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else shape[0]
            bound = 1.0 / np.sqrt(fan_in)
            if name.startswith("rnn"):
                bound = 1.0 / np.sqrt(shape[-1] if len(shape) > 1 else shape[0] // 3)
            a = rng.uniform(-bound, bound, shape).astype(np.float32)
            if a.ndim == 2 and a.size >= 4096:
                keep = rng.random((shape[0], -(-shape[1] // 4))) < density
                a *= np.repeat(keep, 4, axis=1)[:, : shape[1]]
                a /= np.sqrt(density)
            if name.startswith("fc3."):
                a *= 20.0  # trained models have logits of several units, not tenths
            sd[name] = a
    return sd


def geneing_state_dict(seed: int) -> dict[str, np.ndarray]:
    layout = {}
    for name, shape in W.expected_shapes(GENEING_CFG).items():
        layout[name] = shape
        if name.endswith("running_var"):
            layout[name[: -len("running_var")] + "num_batches_tracked"] = ()
    return random_state_dict(layout, seed, density=0.15)


def params_only(sd):
    return {k: v for k, v in sd.items() if k != "step" and not k.endswith("num_batches_tracked")}


CASES = {
    "fatchord-MOL": (lambda: random_state_dict(fatchord_layout("MOL"), 1), lambda: W.config_fatchord("MOL")),
    "fatchord-RAW": (lambda: random_state_dict(fatchord_layout("RAW"), 2), lambda: W.config_fatchord("RAW")),
    "geneing": (lambda: geneing_state_dict(3), lambda: dict(GENEING_CFG)),
}


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request):
    make_sd, make_cfg = CASES[request.param]
    return request.param, make_sd(), make_cfg()


def to_torch(sd):
    from collections import OrderedDict

    return OrderedDict((k, torch.from_numpy(np.array(v))) for k, v in sd.items())


# --------------------------------------------------------------------------- the faithfulness check


def assert_engine_matches_reference(sw_path, params, cfg, frames: int = 2, steps: int = 200, seed: int = 0):
    """Engine teacher-forced logits == float64 NumPy reference on a short clip (rel 1e-4)."""
    rng = np.random.default_rng(seed)
    v = Vocoder.load(sw_path)
    assert (v.n_mels, v.hop_length, v.n_classes) == (cfg["n_mels"], cfg["hop_length"], cfg["n_classes"])
    mel = rng.uniform(-1.0, 1.0, (cfg["n_mels"], frames)).astype(np.float32)
    steps = min(steps, frames * cfg["hop_length"])
    if cfg["head"] == "mol":
        audio = rng.uniform(-0.9, 0.9, steps).astype(np.float32)
        fed = audio.astype(np.float64)
    else:
        k = rng.integers(0, cfg["n_classes"], steps)
        fed = W.label_to_float(k, cfg["bits"])  # what the model feeds back for class k
        audio = (W.decode_mu_law(fed, cfg["n_classes"]) if cfg["mu_law"] else fed).astype(np.float32)
    prev = np.concatenate([[0.0], fed[:-1]])
    mels_up, aux = W.conditioning(params, cfg, mel)
    ref = W.teacher_forced_logits(params, cfg, mels_up[:steps], aux[:steps], prev)
    got = v.logits(np.ascontiguousarray(mel.T), audio)
    assert got.shape == ref.shape
    scale = float(np.max(np.abs(ref)))
    err = float(np.max(np.abs(got - ref)))
    assert scale > 0.5, "test weights too small to be a meaningful check"
    assert err <= 1e-4 * scale, f"max |engine - reference| = {err:.3g} (logit scale {scale:.3g})"


def assert_same_sw(a, b):
    ta, ca = load_model_tensors(a)
    tb, cb = load_model_tensors(b)
    assert sorted(ta) == sorted(tb)
    for k in ta:
        assert np.array_equal(ta[k], tb[k]), k
    ca.pop("converted_from", None)
    cb.pop("converted_from", None)
    assert ca == cb


# --------------------------------------------------------------------------- layout


@pytest.mark.skipif(not LAYOUT.is_file(), reason="fatchord layout json not found")
@pytest.mark.parametrize("mode", ["MOL", "RAW"])
def test_layout_json_matches_reference_shapes(mode):
    layout = fatchord_layout(mode)
    want = W.expected_shapes(W.config_fatchord(mode))
    got = {k: v for k, v in layout.items() if k != "step" and not k.endswith("num_batches_tracked")}
    assert got == want
    assert expected_shapes(W.config_fatchord(mode)) == want  # the converter's own table agrees


# --------------------------------------------------------------------------- npz (no torch)


def test_npz_convert_is_faithful(case, tmp_path):
    name, sd, cfg = case
    src = tmp_path / "weights.npz"
    np.savez(src, **sd)
    assert detect_source(src) == "npz"
    out = tmp_path / "m.sw"
    report = convert(src, out)
    for key in ("variant", "n_rnn", "rnn_dims", "fc_dims", "fc_names", "head", "n_classes", "hop_length", "pad",
                "upsample_factors", "res_blocks", "compute_dims", "res_out_dims", "aux_slices"):
        assert report.config[key] == cfg[key], key
    assert report.config["sample_rate"] == cfg["sample_rate"]
    if cfg["head"] == "softmax":
        assert report.config["mu_law"] == cfg["mu_law"]
    tensors, _ = load_model_tensors(out)
    for k, v in params_only(sd).items():
        assert np.array_equal(tensors[k], v), k
    assert "step" not in tensors
    assert report.nonzero < report.parameters
    assert "density" in report.summary()
    assert_engine_matches_reference(out, params_only(sd), cfg)


# --------------------------------------------------------------------------- torch checkpoints


@needs_torch
def test_fatchord_model_save_pt(tmp_path):
    """fatchord's model.save(): torch.save(state_dict) with the 'step' buffer."""
    for mode, seed in (("MOL", 1), ("RAW", 2)):
        sd = random_state_dict(fatchord_layout(mode), seed)
        pt = tmp_path / f"{mode}.pyt"
        torch.save(to_torch(sd), pt)
        npz = tmp_path / f"{mode}.npz"
        np.savez(npz, **sd)
        report = convert(pt, tmp_path / f"{mode}.sw")
        assert report.source == "torch" and report.trainer == "fatchord" and report.step == 123456
        convert(npz, tmp_path / f"{mode}_npz.sw")
        assert_same_sw(tmp_path / f"{mode}.sw", tmp_path / f"{mode}_npz.sw")


def coqui_config(mode, mulaw: bool, sample_rate: int = 24000, **args):
    model_args = {"rnn_dims": 512, "fc_dims": 512, "compute_dims": 128, "res_out_dims": 128, "num_res_blocks": 10,
                  "use_aux_net": True, "use_upsample_net": True, "upsample_factors": [5, 5, 11], "mode": mode,
                  "mulaw": mulaw, "pad": 2, "feat_dims": 80}
    model_args.update(args)
    return {"model": "wavernn", "model_args": model_args,
            "audio": {"fft_size": 1024, "win_length": 1024, "hop_length": 275, "sample_rate": sample_rate,
                      "num_mels": 80, "mel_fmin": 0.0, "mel_fmax": None, "ref_level_db": 20, "min_level_db": -100,
                      "preemphasis": 0.0, "signal_norm": True, "symmetric_norm": True, "max_norm": 4.0,
                      "stft_pad_mode": "reflect", "power": 1.5, "spec_gain": 20.0, "log_func": "np.log10"},
            "batched": True, "target_samples": 11000, "overlap_samples": 550}


def coqui_checkpoint(sd, config):
    params = to_torch(params_only(sd))
    return {"config": config, "model": params,
            "optimizer": {"state": {}, "param_groups": [{"lr": 1e-4, "params": list(range(len(params)))}]},
            "scaler": None, "step": 250000, "epoch": 42, "date": "May 01, 2022",
            "model_loss": {"train_loss": 3.25, "eval_loss": np.float64(3.5)}}  # NumPy scalar: needs the inert path


@needs_torch
def test_coqui_checkpoint_reads_its_config(tmp_path):
    sd = random_state_dict(fatchord_layout("RAW"), 7)  # Coqui names its layers exactly like fatchord
    pt = tmp_path / "checkpoint_250000.pth"
    torch.save(coqui_checkpoint(sd, coqui_config(9, mulaw=False, sample_rate=24000)), pt)
    report = convert(pt, tmp_path / "coqui.sw")
    c = report.config
    assert report.trainer == "coqui" and report.step == 250000
    assert c["sample_rate"] == 24000 and c["mu_law"] is False and c["bits"] == 9
    assert c["mel"]["normalize"] == "symmetric" and c["mel"]["max_abs_value"] == 4.0 and c["mel"]["n_fft"] == 1024
    assert c["mel"]["fmax"] == 12000 and c["mel"]["power"] == 1.0
    v = Vocoder.load(tmp_path / "coqui.sw")
    assert v.sample_rate == 24000
    cfg = dict(W.config_fatchord("RAW"), mu_law=False, sample_rate=24000)
    assert_engine_matches_reference(tmp_path / "coqui.sw", params_only(sd), cfg, frames=2, steps=200)
    # Caller overrides beat the checkpoint's config.
    report = convert(pt, tmp_path / "coqui2.sw", overrides={"mu_law": True, "sample_rate": 22050})
    assert report.config["mu_law"] is True and report.config["sample_rate"] == 22050


@needs_torch
def test_coqui_mold_checkpoint_with_config_object(tmp_path):
    """A checkpoint whose config is a pickled Coqpit dataclass loads via inert stand-ins."""
    mods = ["TTS", "TTS.vocoder", "TTS.vocoder.configs", "TTS.vocoder.configs.wavernn_config"]
    assert not any(m in sys.modules for m in mods)
    fake = {m: types.ModuleType(m) for m in mods}

    @dataclass
    class WavernnArgs:
        mode: str = "mold"
        mulaw: bool = True
        upsample_factors: list = field(default_factory=lambda: [5, 5, 11])
        pad: int = 2

    @dataclass
    class WavernnConfig:
        model: str = "wavernn"
        model_args: WavernnArgs = field(default_factory=WavernnArgs)
        audio: dict = field(default_factory=lambda: {"sample_rate": 16000, "hop_length": 275, "num_mels": 80})

    leaf = fake[mods[-1]]
    for cls in (WavernnArgs, WavernnConfig):
        cls.__module__ = leaf.__name__
        cls.__qualname__ = cls.__name__
        setattr(leaf, cls.__name__, cls)
    sd = random_state_dict(fatchord_layout("MOL"), 8)
    pt = tmp_path / "best_model.pth"
    sys.modules.update(fake)
    try:
        torch.save({"config": WavernnConfig(), "model": to_torch(params_only(sd)), "step": 7}, pt)
    finally:
        for m in mods:
            sys.modules.pop(m, None)
    report = convert(pt, tmp_path / "mold.sw")
    assert report.trainer == "coqui" and report.config["head"] == "mol"
    assert report.config["sample_rate"] == 16000  # read from the (inert) config object
    assert not any(m in sys.modules for m in mods)  # nothing was imported


@needs_torch
def test_coqui_without_aux_net(tmp_path):
    """use_aux_net=False: no MelResNet, no aux inputs; the engine gets an inert one."""
    r, fc, nm = 64, 48, 80
    layout = {"upsample.up_layers.1.weight": (1, 1, 1, 11), "upsample.up_layers.3.weight": (1, 1, 1, 11),
              "upsample.up_layers.5.weight": (1, 1, 1, 23), "I.weight": (r, 1 + nm), "I.bias": (r,)}
    for n in (1, 2):
        layout.update({f"rnn{n}.weight_ih_l0": (3 * r, r), f"rnn{n}.weight_hh_l0": (3 * r, r),
                       f"rnn{n}.bias_ih_l0": (3 * r,), f"rnn{n}.bias_hh_l0": (3 * r,)})
    layout.update({"fc1.weight": (fc, r), "fc1.bias": (fc,), "fc2.weight": (fc, fc), "fc2.bias": (fc,),
                   "fc3.weight": (256, fc), "fc3.bias": (256,)})
    sd = random_state_dict(layout, 9)
    pt = tmp_path / "noaux.pth"
    torch.save(coqui_checkpoint(sd, coqui_config(8, mulaw=True, rnn_dims=r, fc_dims=fc, use_aux_net=False)), pt)
    report = convert(pt, tmp_path / "noaux.sw")
    assert report.config["aux_slices"] == {} and report.config["mu_law"] is True
    assert any("use_aux_net" in n for n in report.notes)
    tensors, _ = load_model_tensors(tmp_path / "noaux.sw")
    cfg = dict(W.config_fatchord("RAW"), rnn_dims=r, fc_dims=fc, bits=8, n_classes=256, mu_law=True, res_blocks=0,
               compute_dims=1, res_out_dims=4, aux_slices={}, sample_rate=24000)
    params = dict(params_only(sd))
    params.update({k: v for k, v in tensors.items() if k.startswith("upsample.resnet")})
    assert_engine_matches_reference(tmp_path / "noaux.sw", params, cfg, frames=2, steps=200)


def test_unsupported_coqui_variants(tmp_path):
    sd = params_only(random_state_dict(fatchord_layout("RAW"), 10))
    # use_upsample_net=False: MelResNet but no up_layers (linear interpolation upsampling)
    no_up = {k: v for k, v in sd.items() if not k.startswith("upsample.up_layers")}
    np.savez(tmp_path / "noup.npz", **no_up)
    with pytest.raises(ValueError, match="use_upsample_net=False"):
        convert(tmp_path / "noup.npz", tmp_path / "x.sw")
    gauss = dict(sd, **{"fc3.weight": sd["fc3.weight"][:2], "fc3.bias": sd["fc3.bias"][:2]})
    np.savez(tmp_path / "gauss.npz", **gauss)
    with pytest.raises(ValueError, match="gauss"):
        convert(tmp_path / "gauss.npz", tmp_path / "x.sw")
    if torch is None:
        pytest.skip("the .pth half of this test needs torch")
    pt = tmp_path / "noup.pth"
    torch.save(coqui_checkpoint(sd, coqui_config(9, False, use_upsample_net=False)), pt)
    with pytest.raises(ValueError, match="use_upsample_net=False"):
        convert(pt, tmp_path / "x.sw")
    # gauss head: 2 outputs
    gauss = dict(sd, **{"fc3.weight": sd["fc3.weight"][:2], "fc3.bias": sd["fc3.bias"][:2]})
    torch.save(coqui_checkpoint(gauss, coqui_config("gauss", False)), tmp_path / "gauss.pth")
    with pytest.raises(ValueError, match="gauss"):
        convert(tmp_path / "gauss.pth", tmp_path / "x.sw")
    # the config disagrees with the weights
    torch.save(coqui_checkpoint(sd, coqui_config(10, False)), tmp_path / "bits.pth")
    with pytest.raises(ValueError, match="n_classes = 1024"):
        convert(tmp_path / "bits.pth", tmp_path / "x.sw")
    assert not (tmp_path / "x.sw").exists()


@needs_torch
def test_geneing_checkpoint_and_wrappers(tmp_path):
    """geneing train.py checkpoints, DataParallel 'module.' prefixes, GRUCell names, fp16."""
    sd = geneing_state_dict(11)
    np.savez(tmp_path / "ref.npz", **sd)
    convert(tmp_path / "ref.npz", tmp_path / "ref.sw")
    ckpt = {"state_dict": to_torch(sd), "optimizer": {"state": {}, "param_groups": []}, "global_step": 50000,
            "global_epoch": 3, "global_test_step": 0}
    torch.save(ckpt, tmp_path / "checkpoint_step000050000.pth")
    r = convert(tmp_path / "checkpoint_step000050000.pth", tmp_path / "a.sw")
    assert r.step == 50000 and r.config["variant"] == "geneing"
    assert_same_sw(tmp_path / "a.sw", tmp_path / "ref.sw")
    wrapped = {("module." + k): v for k, v in to_torch(sd).items()}
    for k in list(wrapped):
        if k.startswith("module.rnn1.") and k.endswith("_l0"):
            wrapped[k[: -len("_l0")]] = wrapped.pop(k)  # GRUCell naming
    torch.save(wrapped, tmp_path / "wrapped.pt")
    convert(tmp_path / "wrapped.pt", tmp_path / "b.sw")
    assert_same_sw(tmp_path / "b.sw", tmp_path / "ref.sw")
    half = {k: (v.half() if v.is_floating_point() else v) for k, v in to_torch(sd).items()}
    torch.save(half, tmp_path / "half.pt")
    r = convert(tmp_path / "half.pt", tmp_path / "c.sw")
    t, _ = load_model_tensors(tmp_path / "c.sw")
    assert t["fc3.weight"].dtype == np.float32
    assert np.array_equal(t["fc3.weight"], sd["fc3.weight"].astype(np.float16).astype(np.float32))


# --------------------------------------------------------------------------- the real geneing model


@pytest.mark.skipif(not (GENEING / "model.bin").is_file(), reason="shared geneing model not found")
def test_real_geneing_model_bin_equals_state_dict(tmp_path):
    out = tmp_path / "geneing.sw"
    report = convert(GENEING / "model.bin", out)
    assert report.source == "geneing-bin" and report.config["variant"] == "geneing"
    assert report.parameters == 648_937 and report.nonzero == 147_605
    tensors, cfg = load_model_tensors(out)
    assert cfg["sample_rate"] == 16000 and cfg["bits"] == 10 and cfg["mu_law"] is False
    assert cfg["aux_slices"] == {"I": [0, 31], "fc1": [32, 64]}
    if torch is None:
        pytest.skip("torch is not installed: cannot read state_dict.pt")
    sd = torch.load(GENEING / "state_dict.pt", map_location="cpu", weights_only=True)
    want = {k: v.numpy() for k, v in sd.items() if not k.endswith("num_batches_tracked")}
    assert sorted(tensors) == sorted(want)
    for k, v in want.items():
        assert tensors[k].shape == v.shape and np.array_equal(tensors[k], v), k
    # and the .pt converts to the same file
    convert(GENEING / "state_dict.pt", tmp_path / "from_pt.sw")
    t2, c2 = load_model_tensors(tmp_path / "from_pt.sw")
    assert all(np.array_equal(t2[k], tensors[k]) for k in tensors)
    v = Vocoder.load(out)
    assert (v.sample_rate, v.hop_length, v.n_mels, v.n_classes) == (16000, 200, 80, 1024)


# --------------------------------------------------------------------------- hostile files


class _Payload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


class _OpenPayload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_hostile_pickle_is_refused_and_not_run(tmp_path):
    pytest.importorskip("torch")
    marker = tmp_path / "PWNED"
    sd = to_torch(params_only(geneing_state_dict(12)))
    files = []
    # A torch.save zip with a payload next to real weights ...
    evil = dict(sd)
    evil["extra"] = _Payload(marker)
    torch.save(evil, tmp_path / "evil_zip.pt")
    files.append(tmp_path / "evil_zip.pt")
    # ... a legacy (non-zip) torch.save ...
    torch.save({"model": sd, "config": _OpenPayload(marker)}, tmp_path / "evil_legacy.pth",
               _use_new_zipfile_serialization=False)
    files.append(tmp_path / "evil_legacy.pth")
    # ... and a bare pickle named like a checkpoint.
    (tmp_path / "evil_raw.ckpt").write_bytes(pickle.dumps(_Payload(marker), protocol=4))
    files.append(tmp_path / "evil_raw.ckpt")
    for f in files:
        with pytest.raises(ValueError, match="refusing|cannot read|unsafe|weights_only"):
            convert(f, tmp_path / "out.sw")
        assert not marker.exists(), f"payload in {f.name} ran"
    assert not (tmp_path / "out.sw").exists()


def test_pickled_npz_is_refused(tmp_path):
    np.savez(tmp_path / "obj.npz", **{"I.weight": np.array([_Payload(tmp_path / "PWNED")], dtype=object)})
    with pytest.raises(ValueError, match="npz"):
        convert(tmp_path / "obj.npz", tmp_path / "out.sw")
    assert not (tmp_path / "PWNED").exists()


# --------------------------------------------------------------------------- wrong kinds of files


def test_wrong_kinds_of_files(tmp_path):
    out = tmp_path / "out.sw"
    (tmp_path / "empty.pt").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("this is not a model\n" * 10)
    np.save(tmp_path / "mel.npy", np.zeros((80, 10), np.float32))
    (tmp_path / "audio.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(40))
    (tmp_path / "dir").mkdir()
    cases = [
        ("empty.pt", ValueError, "empty"),
        ("notes.txt", ValueError, "cannot tell"),
        ("mel.npy", ValueError, "single NumPy array"),
        ("audio.wav", ValueError, "audio file"),
    ]
    for name, exc, msg in cases:
        with pytest.raises(exc, match=msg):
            convert(tmp_path / name, out)
    with pytest.raises(IsADirectoryError):
        convert(tmp_path / "dir", out)
    with pytest.raises(FileNotFoundError):
        convert(tmp_path / "missing.pt", out)
    with pytest.raises(ValueError, match="unknown source"):
        convert(tmp_path / "notes.txt", out, source="tensorflow")
    # a sparsewave file is not a checkpoint
    sd = geneing_state_dict(13)
    np.savez(tmp_path / "g.npz", **sd)
    convert(tmp_path / "g.npz", tmp_path / "g.sw")
    with pytest.raises(ValueError, match="already a sparsewave"):
        convert(tmp_path / "g.sw", out)
    assert not out.exists()


def test_not_a_wavernn_and_inconsistent_shapes(tmp_path):
    out = tmp_path / "out.sw"
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "linear.npz", weight=rng.standard_normal((4, 4)), bias=np.zeros(4))
    with pytest.raises(ValueError, match="not a WaveRNN"):
        convert(tmp_path / "linear.npz", out)
    sd = params_only(geneing_state_dict(14))
    missing = {k: v for k, v in sd.items() if k != "fc1.bias"}
    np.savez(tmp_path / "missing.npz", **missing)
    with pytest.raises(ValueError, match=r"missing tensors fc1\.bias"):
        convert(tmp_path / "missing.npz", out)
    bad = dict(sd, **{"rnn1.weight_hh_l0": sd["rnn1.weight_hh_l0"][:, :200]})
    np.savez(tmp_path / "bad.npz", **bad)
    with pytest.raises(ValueError, match=r"inconsistent shapes: rnn1\.weight_hh_l0 is \(768, 200\)"):
        convert(tmp_path / "bad.npz", out)
    odd = dict(sd, **{"fc3.weight": sd["fc3.weight"][:1000], "fc3.bias": sd["fc3.bias"][:1000]})
    np.savez(tmp_path / "odd.npz", **odd)
    with pytest.raises(ValueError, match="1000 classes"):
        convert(tmp_path / "odd.npz", out)
    nan = dict(sd, **{"I.bias": np.full_like(sd["I.bias"], np.nan)})
    np.savez(tmp_path / "nan.npz", **nan)
    with pytest.raises(ValueError, match="NaN"):
        convert(tmp_path / "nan.npz", out)
    assert not out.exists()
    assert not list(tmp_path.glob("*.tmp"))


def test_truncated_files(tmp_path):
    sd = geneing_state_dict(15)
    np.savez(tmp_path / "g.npz", **sd)
    data = (tmp_path / "g.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError):
        convert(tmp_path / "cut.npz", tmp_path / "out.sw", source="npz")
    if (GENEING / "model.bin").is_file():
        raw = (GENEING / "model.bin").read_bytes()
        (tmp_path / "cut.bin").write_bytes(raw[:300_000])
        with pytest.raises(ValueError, match="truncated"):
            convert(tmp_path / "cut.bin", tmp_path / "out.sw")
    if torch is not None:
        torch.save(to_torch(sd), tmp_path / "g.pt")
        raw = (tmp_path / "g.pt").read_bytes()
        (tmp_path / "cut.pt").write_bytes(raw[: len(raw) // 2])
        with pytest.raises(ValueError):
            convert(tmp_path / "cut.pt", tmp_path / "out.sw")
        torch.save(torch.zeros(3), tmp_path / "tensor.pt")
        with pytest.raises(ValueError, match="single tensor"):
            convert(tmp_path / "tensor.pt", tmp_path / "out.sw")
        torch.save({"epoch": 3, "notes": "x"}, tmp_path / "nothing.pt")
        with pytest.raises(ValueError, match="no tensors"):
            convert(tmp_path / "nothing.pt", tmp_path / "out.sw")
    assert not (tmp_path / "out.sw").exists()


def test_safetensors_source_and_read_checkpoint(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    sd = params_only(geneing_state_dict(16))
    st.save_file({k: np.ascontiguousarray(v) for k, v in sd.items()}, str(tmp_path / "g.safetensors"))
    assert detect_source(tmp_path / "g.safetensors") == "safetensors"
    tensors, meta = read_checkpoint(tmp_path / "g.safetensors")
    assert meta["source"] == "safetensors" and sorted(tensors) == sorted(sd)
    np.savez(tmp_path / "g.npz", **sd)
    convert(tmp_path / "g.safetensors", tmp_path / "a.sw")
    convert(tmp_path / "g.npz", tmp_path / "b.sw")
    assert_same_sw(tmp_path / "a.sw", tmp_path / "b.sw")
    with zipfile.ZipFile(tmp_path / "g.npz") as z:
        assert all(n.endswith(".npy") for n in z.namelist())


# --------------------------------------------------------------------------- trainers' config files


FATCHORD_HPARAMS = DATA / "fatchord_layout" / "fatchord_hparams.json"
GENEING_HPARAMS = GENEING / "hparams.json"


def _fatchord_hparams(mode):
    if FATCHORD_HPARAMS.is_file():
        hp = json.loads(FATCHORD_HPARAMS.read_text())
    else:
        hp = {"sample_rate": 22050, "n_fft": 2048, "num_mels": 80, "hop_length": 275, "win_length": 1100, "fmin": 40,
              "min_level_db": -100, "ref_level_db": 20, "bits": 9, "mu_law": True, "voc_upsample_factors": [5, 5, 11],
              "voc_pad": 2}
    return dict(hp, voc_mode=mode)


def test_trainer_config_files_as_overrides(tmp_path):
    """fatchord hparams / a Coqui config.json given next to a bare state_dict."""
    sd = random_state_dict(fatchord_layout("RAW"), 17)
    np.savez(tmp_path / "raw.npz", **sd)
    hp = dict(_fatchord_hparams("RAW"), mu_law=False, sample_rate=24000)
    r = convert(tmp_path / "raw.npz", tmp_path / "a.sw", overrides=hp)
    assert r.config["sample_rate"] == 24000 and r.config["mu_law"] is False
    assert r.config["mel"]["fmin"] == 40 and r.config["mel"]["fmax"] == 12000 and r.config["mel"]["win_length"] == 1100
    assert any("fatchord config" in n for n in r.notes)
    # explicit keys beat the trainer config
    r = convert(tmp_path / "raw.npz", tmp_path / "b.sw", overrides={"trainer_config": hp, "sample_rate": 16000})
    assert r.config["sample_rate"] == 16000 and r.config["mu_law"] is False
    r = convert(tmp_path / "raw.npz", tmp_path / "c.sw",
                overrides={"trainer_config": coqui_config(9, mulaw=True, sample_rate=22050)})
    assert r.config["mu_law"] is True and r.config["mel"]["n_fft"] == 1024
    # a config of another model is an error, not a silent mix
    with pytest.raises(ValueError, match="n_classes = 30"):
        convert(tmp_path / "raw.npz", tmp_path / "d.sw", overrides=_fatchord_hparams("MOL"))
    with pytest.raises(ValueError, match="hop_length = 256"):
        convert(tmp_path / "raw.npz", tmp_path / "d.sw", overrides=dict(hp, hop_length=256))
    assert not (tmp_path / "d.sw").exists()
    # without any config the assumption is stated
    r = convert(tmp_path / "raw.npz", tmp_path / "e.sw")
    assert any("assumed fatchord's hparams" in n for n in r.notes)


@pytest.mark.skipif(not GENEING_HPARAMS.is_file(), reason="shared geneing model not found")
def test_geneing_hparams_with_model_bin(tmp_path):
    hp = json.loads(GENEING_HPARAMS.read_text())
    r = convert(GENEING / "model.bin", tmp_path / "g.sw", overrides=hp)
    assert r.config["sample_rate"] == 16000 and r.config["mu_law"] is False
    assert r.config["mel"]["normalize"] == "symmetric" and r.config["mel"]["pad_mode"] == "constant"
    with pytest.raises(ValueError, match="hop_length = 275"):
        convert(GENEING / "model.bin", tmp_path / "x.sw", overrides=dict(hp, hop_size=275))
