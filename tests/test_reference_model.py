"""Checks of the geneing model.bin reader and of the float64 NumPy WaveRNN reference.

Uses the shared test material (real geneing weights and PyTorch reference outputs) from
``<project>/../shared/data``; those tests skip when it is absent. The state_dict comparison
also needs torch (used only here, never by the parser).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data"
MODEL_BIN = DATA / "wavernn_geneing_mailabs" / "model.bin"
STATE_DICT = DATA / "wavernn_geneing_mailabs" / "state_dict.pt"
REF = DATA / "reference"
LAYOUT = DATA / "fatchord_layout" / "fatchord_state_dict_layout.json"

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference_models import wavernn_numpy as W  # noqa: E402


def _load_geneing_bin():
    """The parser module; loaded from its file if the package (C++ core) is not built."""
    try:
        return importlib.import_module("sparsewave.converters.geneing_bin")
    except ImportError:
        path = ROOT / "src" / "sparsewave" / "converters" / "geneing_bin.py"
        spec = importlib.util.spec_from_file_location("_sparsewave_geneing_bin", path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = mod  # dataclasses need the module registered
        spec.loader.exec_module(mod)
        return mod


gb = _load_geneing_bin()

needs_data = pytest.mark.skipif(
    not MODEL_BIN.is_file() or not REF.is_dir(),
    reason=f"shared test data not found at {DATA.resolve()} (needs wavernn_geneing_mailabs/ and reference/)",
)


def _ref(name: str) -> np.ndarray:
    return np.load(REF / f"lj001_0001_{name}.npy")


@pytest.fixture(scope="module")
def model_bytes() -> bytes:
    return MODEL_BIN.read_bytes()


@pytest.fixture(scope="module")
def geneing(model_bytes):
    tensors, info = gb.parse_geneing_model_bin(model_bytes)
    return tensors, info, W.config_from_geneing(info)


@pytest.fixture(scope="module")
def cond_ref():
    return _ref("cond_mels_up").astype(np.float64), _ref("cond_aux").astype(np.float64)


# --------------------------------------------------------------------------- parser


@needs_data
def test_parser_header_and_shapes(geneing):
    tensors, info, cfg = geneing
    assert (info.res_blocks, info.n_upsample, info.total_scale, info.pad) == (3, 3, 200, 2)
    assert info.upsample_scales == (4, 5, 10)
    assert info.upsample_kernel_sizes == (9, 11, 21)
    assert (info.n_mels, info.compute_dims, info.res_out_dims) == (80, 64, 64)
    assert (info.rnn_dims, info.fc_dims, info.n_classes) == (256, 128, 1024)
    assert (info.aux_to_I, info.aux_to_fc1) == (31, 32)
    assert len(tensors) == 50
    assert all(a.dtype == np.float32 for a in tensors.values())
    assert {k: v.shape for k, v in tensors.items()} == W.expected_shapes(cfg)
    assert sum(a.size for a in tensors.values()) == 648_937
    assert sum(int(np.count_nonzero(a)) for a in tensors.values()) == 147_605
    assert cfg["aux_slices"] == {"I": [0, 31], "fc1": [32, 64]}


@needs_data
def test_parser_equals_state_dict(model_bytes):
    torch = pytest.importorskip("torch", reason="torch not installed (only needed to read state_dict.pt)", exc_type=ImportError)
    if not STATE_DICT.is_file():
        pytest.skip(f"{STATE_DICT} not found")
    sd = torch.load(STATE_DICT, map_location="cpu", weights_only=True)
    expected = {k: v.numpy() for k, v in sd.items() if not k.endswith("num_batches_tracked")}
    tensors, _ = gb.read_geneing_model_bin(MODEL_BIN)
    assert set(tensors) == set(expected)
    for k, v in expected.items():
        assert tensors[k].dtype == v.dtype == np.float32, k
        assert tensors[k].shape == v.shape, k
        assert np.array_equal(tensors[k], v), k


def _offset_of_I_indices(data: bytes):
    """(offset of I's nW field, offset of I's first idx byte) located via its name field."""
    name = b"Linear(in_features=112, out_features=256"
    pos = data.index(name)
    payload = pos + gb.NAME_LEN
    nw_off = payload + 12  # elSize, rows, cols
    (n_w,) = struct.unpack_from("<i", data, nw_off)
    nidx_off = nw_off + 4 + 4 * n_w
    return nw_off, nidx_off + 4


def _patched(data: bytes, offset: int, fmt: str, value) -> bytes:
    b = bytearray(data)
    struct.pack_into(fmt, b, offset, value)
    return bytes(b)


@needs_data
@pytest.mark.parametrize("cut", [0, 3, 15, 16, 50, 100, 5000, 60_000, 200_000, 400_000, 617_000, -1])
def test_parser_rejects_truncation(model_bytes, tmp_path, cut):
    n = cut if cut >= 0 else len(model_bytes) + cut
    p = tmp_path / "trunc.bin"
    p.write_bytes(model_bytes[:n])
    with pytest.raises(ValueError, match="truncated|record"):
        gb.read_geneing_model_bin(p)


@needs_data
def test_parser_rejects_trailing_bytes(model_bytes):
    with pytest.raises(ValueError, match="trailing"):
        gb.parse_geneing_model_bin(model_bytes + b"\0\0\0\0")


@needs_data
def test_parser_rejects_bad_record_type(model_bytes, tmp_path):
    p = tmp_path / "type.bin"
    p.write_bytes(_patched(model_bytes, 16, "<i", 7))
    with pytest.raises(ValueError, match="expected record type 1"):
        gb.read_geneing_model_bin(p)
    nw_off, _ = _offset_of_I_indices(model_bytes)
    # I is a Linear (4); claim it is a GRU (5)
    with pytest.raises(ValueError, match="record 'I'.*expected record type 4"):
        gb.parse_geneing_model_bin(_patched(model_bytes, nw_off - 12 - gb.NAME_LEN - 4, "<i", 5))


@needs_data
def test_parser_rejects_bad_el_size(model_bytes):
    with pytest.raises(ValueError, match="elSize"):
        gb.parse_geneing_model_bin(_patched(model_bytes, 16 + 4 + gb.NAME_LEN, "<i", 8))


@needs_data
def test_parser_rejects_out_of_range_block_index(model_bytes, tmp_path):
    _, idx_off = _offset_of_I_indices(model_bytes)
    assert model_bytes[idx_off] != 255
    p = tmp_path / "blk.bin"
    p.write_bytes(_patched(model_bytes, idx_off, "<B", 254))  # 254 * 4 overflows uint8; I has 28 blocks
    with pytest.raises(ValueError, match="block-column index 254 out of range"):
        gb.read_geneing_model_bin(p)


@needs_data
def test_parser_rejects_bad_row_terminators(model_bytes):
    _, idx_off = _offset_of_I_indices(model_bytes)
    data = bytearray(model_bytes)
    first_end = data.index(255, idx_off)
    data[first_end] = 0  # one terminator fewer
    with pytest.raises(ValueError, match="row terminators"):
        gb.parse_geneing_model_bin(bytes(data))


@needs_data
def test_parser_rejects_huge_counts(model_bytes, tmp_path):
    nw_off, _ = _offset_of_I_indices(model_bytes)
    for value in (0x7FFFFFFF, -4, 4 * 10**8):
        p = tmp_path / "huge.bin"
        p.write_bytes(_patched(model_bytes, nw_off, "<i", value))
        with pytest.raises(ValueError):
            gb.read_geneing_model_bin(p)
    # Conv1d out_channels (offset: header 16 + type 4 + name 64 + elSize, hasBias, in)
    with pytest.raises(ValueError):
        gb.parse_geneing_model_bin(_patched(model_bytes, 16 + 4 + gb.NAME_LEN + 12, "<i", 1 << 29))
    # Linear rows of I
    with pytest.raises(ValueError, match="rows"):
        gb.parse_geneing_model_bin(_patched(model_bytes, nw_off - 8, "<i", 0x7FFFFFFF))
    # header res_blocks
    with pytest.raises(ValueError, match="res_blocks"):
        gb.parse_geneing_model_bin(_patched(model_bytes, 0, "<i", 1 << 30))
    # dense-size budget
    with pytest.raises(ValueError, match="max_dense_params"):
        gb.parse_geneing_model_bin(model_bytes, max_dense_params=100_000)


@needs_data
def test_parser_random_corruption_raises_only_value_error(model_bytes):
    rng = np.random.default_rng(0)
    size = len(model_bytes)
    for _ in range(60):
        data = bytearray(model_bytes)
        for pos in rng.integers(0, size, size=rng.integers(1, 4)):
            data[pos] = int(rng.integers(0, 256))
        try:
            gb.parse_geneing_model_bin(bytes(data))
        except ValueError:
            pass


# --------------------------------------------------------------------------- numpy reference vs PyTorch


@needs_data
def test_conditioning_matches_reference(geneing, cond_ref):
    tensors, _, cfg = geneing
    mels_up, aux = W.conditioning(tensors, cfg, _ref("mel"))
    ref_mu, ref_aux = cond_ref
    assert mels_up.shape == ref_mu.shape == (10000, 80)
    assert aux.shape == ref_aux.shape == (10000, 64)
    assert np.abs(mels_up - ref_mu).max() <= 1e-5
    assert np.abs(aux - ref_aux).max() <= 1e-5


@needs_data
def test_teacher_forced_logits_match_reference(geneing, cond_ref):
    tensors, _, cfg = geneing
    mu, aux = cond_ref
    target = _ref("tf_target_idx").astype(np.int64)
    prev = np.concatenate([[0.0], W.label_to_float(target[:-1], cfg["bits"])])
    ref = _ref("tf_logits_first400").astype(np.float64)
    logits = W.teacher_forced_logits(tensors, cfg, mu[:400], aux[:400], prev[:400])
    err = np.abs(logits - ref)
    # The reference is float32; its rounding noise accumulates in the GRU state (logits reach
    # |168|): ~1.5e-5 at step 0, 6e-4 by step 400 (a float32 NumPy run drifts just as much).
    assert err[:10].max() <= 1e-4
    assert err.max() <= 2e-3
    assert np.abs(W.softmax(logits) - W.softmax(ref)).max() <= 1e-4
    assert np.array_equal(logits.argmax(1), ref.argmax(1))


@needs_data
def test_inverse_cdf_indices_with_reference_feedback(geneing, cond_ref):
    tensors, _, cfg = geneing
    mu, aux = cond_ref
    n = 10_000
    out = _ref("det_out").astype(np.float64)
    idx = _ref("det_idx").astype(np.int64)
    u = _ref("det_uniforms").reshape(-1).astype(np.float64)
    margin = _ref("det_margin").reshape(-1)
    assert np.abs(W.label_to_float(idx, cfg["bits"]) - out).max() < 1e-6
    prev = np.concatenate([[0.0], out[:-1]])
    logits = W.teacher_forced_logits(tensors, cfg, mu[:n], aux[:n], prev[:n])
    k, m = W.sample_softmax_inverse_cdf(logits, u[:n])
    robust = margin[:n] > 1e-4
    assert robust.sum() > 0.98 * n  # 56 near-ties (margin < 1e-4) in 10,000 steps
    assert np.array_equal(k[robust], idx[:n][robust])
    assert np.abs(m - margin[:n]).max() < 1e-3


@needs_data
def test_free_running_generation_matches_until_a_small_margin(geneing, cond_ref):
    tensors, _, cfg = geneing
    mu, aux = cond_ref
    n = 2600  # the float64 loop first differs at step 2514 (margin 7e-7)
    u = _ref("det_uniforms")[:, :n]  # (1, N) accepted
    samples, idx = W.generate_deterministic(tensors, cfg, mu[:n], aux[:n], u)
    ref_idx = _ref("det_idx")[:n].astype(np.int64)
    margin = _ref("det_margin").reshape(-1)
    diff = np.nonzero(idx != ref_idx)[0]
    if diff.size:  # free running is chaotic: only a near-tie may flip first
        first = diff[0]
        assert margin[first] < 1e-4, f"first difference at {first} with margin {margin[first]}"
        assert np.array_equal(idx[:first], ref_idx[:first])
    assert np.allclose(samples, W.label_to_float(idx, cfg["bits"]))


@needs_data
def test_batched_folds_and_xfade(geneing, cond_ref):
    tensors, _, cfg = geneing
    mu, aux = cond_ref
    folds_out = _ref("detb_folds_out").astype(np.float64)
    folds_idx = _ref("detb_folds_idx").astype(np.int64)
    uni = _ref("detb_uniforms").astype(np.float64)
    margin = _ref("detb_margin")
    out = _ref("detb_out").astype(np.float64)
    assert np.abs(W.xfade_and_unfold(folds_out, 100) - out).max() < 1e-6

    mf = W.fold_with_overlap(mu, 2000, 100)
    af = W.fold_with_overlap(aux, 2000, 100)
    assert mf.shape == (5, 2200, 80) and af.shape == (5, 2200, 64)
    assert np.array_equal(mf[1], mu[2100:4300])
    assert np.array_equal(mf[4, :1600], mu[8400:]) and np.all(mf[4, 1600:] == 0)

    n = 600  # teacher-force each fold (x = 0, h = 0 at its start) with the reference's own output
    prev = np.concatenate([np.zeros((5, 1)), folds_out[:, : n - 1]], axis=1)
    # One fold at a time: batched small GEMMs can crawl when OpenBLAS threads meet a busy CPU.
    logits = np.stack([W.teacher_forced_logits(tensors, cfg, mf[i, :n], af[i, :n], prev[i]) for i in range(5)])
    k, _ = W.sample_softmax_inverse_cdf(logits, uni[:, :n])
    robust = margin[:, :n] > 1e-4
    assert np.array_equal(k[robust], folds_idx[:, :n][robust])


# --------------------------------------------------------------------------- fatchord variant


def _small_fatchord(mode: str) -> dict:
    return W.config_fatchord(mode, {
        "voc_rnn_dims": 48, "voc_fc_dims": 40, "voc_compute_dims": 24, "voc_res_out_dims": 32,
        "voc_res_blocks": 2, "voc_upsample_factors": [2, 3, 4], "hop_length": 24, "num_mels": 16,
    })


@pytest.mark.skipif(not LAYOUT.is_file(), reason=f"{LAYOUT} not found")
@pytest.mark.parametrize("mode", ["MOL", "RAW"])
def test_fatchord_config_matches_layout(mode):
    layout = json.loads(LAYOUT.read_text())[mode]
    hp = json.loads((LAYOUT.parent / "fatchord_hparams.json").read_text())
    want = {k: tuple(v) for k, v in layout.items() if k != "step" and not k.endswith("num_batches_tracked")}
    assert W.expected_shapes(W.config_fatchord(mode, hp)) == want


@pytest.mark.parametrize("mode", ["MOL", "RAW"])
def test_fatchord_variant_runs(mode):
    cfg = _small_fatchord(mode)
    params = W.random_params(cfg, seed=1)
    rng = np.random.default_rng(2)
    mel = rng.uniform(0, 1, (cfg["n_mels"], 7))
    mu, aux = W.conditioning(params, cfg, mel)
    assert mu.shape == (7 * 24, 16) and aux.shape == (7 * 24, 32)
    n = 60
    u = rng.random((n, 2)) if mode == "MOL" else rng.random(n)
    samples, idx = W.generate_deterministic(params, cfg, mu[:n], aux[:n], u)
    assert samples.shape == idx.shape == (n,)
    assert np.all(np.abs(samples) <= 1.0)
    # teacher forcing with the generated stream reproduces the free-running choices
    fed = samples if mode == "MOL" else W.label_to_float(idx, cfg["bits"])
    logits = W.teacher_forced_logits(params, cfg, mu[:n], aux[:n], np.concatenate([[0.0], fed[:-1]]))
    if mode == "MOL":
        x, comp = W.sample_mol(logits, u)
        assert np.allclose(x, samples) and np.array_equal(comp, idx)
    else:
        assert np.array_equal(W.sample_softmax_inverse_cdf(logits, u)[0], idx)
        assert np.allclose(samples, W.decode_mu_law(fed, 512))
    # batched == unbatched per fold
    mb = np.stack([mu[:n], mu[n:2 * n]])
    ab = np.stack([aux[:n], aux[n:2 * n]])
    ub = np.stack([u, u])
    sb, ib = W.generate_deterministic(params, cfg, mb, ab, ub)
    assert np.allclose(sb[0], samples) and np.array_equal(ib[0], idx)


def test_fatchord_matches_torch_modules():
    """Cross-check the 2-GRU / 3-fc / 4-aux-chunk wiring against torch's own layers."""
    torch = pytest.importorskip("torch", reason="torch not installed", exc_type=ImportError)
    F = torch.nn.functional
    cfg = _small_fatchord("RAW")
    params = W.random_params(cfg, seed=3)
    P = {k: torch.tensor(v, dtype=torch.float64) for k, v in params.items()}
    rng = np.random.default_rng(4)
    mel = rng.uniform(0, 1, (cfg["n_mels"], 5))
    mu, aux = W.conditioning(params, cfg, mel)
    n = 50
    x_prev = rng.uniform(-1, 1, n)
    ours = W.teacher_forced_logits(params, cfg, mu[:n], aux[:n], x_prev)

    with torch.no_grad():
        m = torch.tensor(mel)[None]  # (1, n_mels, T)
        m = F.pad(m, (cfg["pad"], cfg["pad"]))
        rn = "upsample.resnet"

        def bn(x, pre):
            return F.batch_norm(x, P[pre + ".running_mean"], P[pre + ".running_var"],
                                P[pre + ".weight"], P[pre + ".bias"], False, 0.0, cfg["bn_eps"])

        a = F.relu(bn(F.conv1d(m, P[f"{rn}.conv_in.weight"]), f"{rn}.batch_norm"))
        for i in range(cfg["res_blocks"]):
            r = a
            a = F.relu(bn(F.conv1d(a, P[f"{rn}.layers.{i}.conv1.weight"]), f"{rn}.layers.{i}.batch_norm1"))
            a = bn(F.conv1d(a, P[f"{rn}.layers.{i}.conv2.weight"]), f"{rn}.layers.{i}.batch_norm2") + r
        a = F.conv1d(a, P[f"{rn}.conv_out.weight"], P[f"{rn}.conv_out.bias"])
        a = a.repeat_interleave(cfg["hop_length"], dim=2).transpose(1, 2)
        u = m[:, None]  # (1, 1, n_mels, T + 2 pad)
        for i, s in enumerate(cfg["upsample_factors"]):
            u = u.repeat_interleave(s, dim=3)
            u = F.conv2d(u, P[f"upsample.up_layers.{2 * i + 1}.weight"], padding=(0, s))
        cut = cfg["pad"] * cfg["hop_length"]
        u = u[0, 0, :, cut:-cut].T[None]
        assert np.abs(u[0].numpy() - mu).max() < 1e-12 and np.abs(a[0].numpy() - aux).max() < 1e-12

        q = cfg["res_out_dims"] // 4
        a1, a2, a3, a4 = (a[:, :n, j * q:(j + 1) * q] for j in range(4))
        x = torch.cat([torch.tensor(x_prev)[None, :, None], u[:, :n], a1], dim=2)
        x = F.linear(x, P["I.weight"], P["I.bias"])

        def gru(inp, pre):
            g = torch.nn.GRU(inp.shape[-1], cfg["rnn_dims"], batch_first=True).double()
            g.load_state_dict({k: P[f"{pre}.{k}"] for k in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")})
            return g(inp)[0]

        x = x + gru(x, "rnn1")
        x = x + gru(torch.cat([x, a2], dim=2), "rnn2")
        x = F.relu(F.linear(torch.cat([x, a3], dim=2), P["fc1.weight"], P["fc1.bias"]))
        x = F.relu(F.linear(torch.cat([x, a4], dim=2), P["fc2.weight"], P["fc2.bias"]))
        theirs = F.linear(x, P["fc3.weight"], P["fc3.bias"])[0].numpy()
    assert np.abs(ours - theirs).max() < 1e-9


def test_sampling_helpers():
    logits = np.log(np.array([[0.1, 0.2, 0.3, 0.4]]))
    for u, k in ((0.0, 0), (0.1, 0), (0.1000001, 1), (0.5, 2), (0.95, 3), (1.0, 3)):
        got, _ = W.sample_softmax_inverse_cdf(logits, np.array([u]))
        assert got[0] == k, (u, got)
    # MOL: one dominant component; the median of a logistic is its mean
    mol = np.full(30, -50.0)
    mol[3], mol[13], mol[23] = 50.0, 0.25, np.log(0.01)
    x, comp = W.sample_mol(mol, np.array([0.7, 0.5]))
    assert comp == 3 and abs(x - 0.25) < 1e-12
    x_hi, _ = W.sample_mol(mol, np.array([0.7, 1.0]))
    assert x_hi == pytest.approx(0.25 + 0.01 * np.log((1 - 1e-5) / 1e-5))
    # mu-law round trip and label mapping
    xs = np.linspace(-1, 1, 101)
    assert np.abs(W.decode_mu_law(W.encode_mu_law(xs, 512), 512, from_labels=True) - xs).max() < 0.02
    assert np.array_equal(W.float_to_label(W.label_to_float(np.arange(1024), 10), 10), np.arange(1024))
    # fold / unfold of a constant: interior samples sum back to the constant
    y = W.fold_with_overlap(np.ones(10_000), 2000, 100)
    assert y.shape == (5, 2200)
    z = W.xfade_and_unfold(y, 100)
    assert z.shape == (10_600,)
    assert np.all(z[:50] == 0.0)  # first fold's leading silence
    assert np.allclose(z[100:2100], 1.0)  # untouched interior of fold 0
    t = np.linspace(-1, 1, 50)
    # The overlap is not a true crossfade: the silence halves make fold 0 fade out to 0 over
    # [2100, 2150) and fold 1 fade in from 0 over [2150, 2200).
    assert np.allclose(z[2100:2150], np.sqrt(0.5 * (1 - t)))
    assert np.allclose(z[2150:2200], np.sqrt(0.5 * (1 + t)))
