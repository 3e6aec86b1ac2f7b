"""The engine's subscale family (cpp/model/subscale_model.cpp) against the float64 reference
(tests/subscale_reference.py), plain and Fused: teacher-forced probabilities, free-running
samples given uniforms, on every ISA; and what the family refuses (streaming, bad configs and
tensors)."""
import numpy as np
import pytest

import sparsewave
import subscale_reference as ref
from sparsewave.subscale import random_subscale
from sparsewave.weights import save_model

HOP, MELS = 10, 8
CASES = [  # hidden, density, block, B, F, C, D, E, upsample, fused
    (16, 1.0, (4, 4), 4, 2, 8, 3, 2, "repeat", False),
    (32, 0.3, (4, 4), 16, 3, 6, 2, 3, "repeat", False),   # B = 16: the wide multi-vector kernels
    (48, 0.25, (16, 1), 5, 4, 5, 0, 1, "conv", False),     # no dilated layers; F > 2^D
    (16, 1.0, (4, 4), 1, 1, 4, 1, 2, "repeat", False),     # B = 1: the plain loop plus a context term
    (24, 0.5, (4, 4), 12, 1, 7, 4, 2, "repeat", False),    # 12 vectors: wide kernel with empty lanes
    # Fused Subscale: pairs share a state of four parts
    (16, 1.0, (4, 4), 4, 2, 8, 3, 2, "repeat", True),
    (64, 0.3, (4, 4), 32, 3, 6, 2, 3, "repeat", True),    # 16 pairs: the wide multi-vector kernels
    (24, 0.5, (16, 1), 6, 1, 5, 0, 1, "conv", True),       # parts of 6 units
    (36, 0.6, (4, 4), 2, 4, 5, 2, 2, "repeat", True),      # one pair, parts of 9 units
]


def _groups(cfg):
    return cfg["sub_tensors"] // (2 if cfg.get("fused") else 1)


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


@pytest.fixture(params=CASES, ids=lambda c: f"N{c[0]}-B{c[3]}-F{c[4]}-D{c[6]}-{c[2][0]}x{c[2][1]}-{c[8]}"
                + ("-fused" if c[9] else ""))
def model(request, tmp_path_factory):
    N, density, block, B, F, C, D, E, up, fused = request.param
    kw = dict(upsample="conv", upsample_kernel=5) if up == "conv" else {}
    tensors, cfg = random_subscale(N, density, block, seed=N + B, n_mels=MELS, hop_length=HOP, sub_tensors=B,
                                   horizon=F, context_channels=C, context_layers=D, context_features=E,
                                   fused=fused, **kw)
    path = save_model(tmp_path_factory.mktemp("sub") / "model.sw", tensors, cfg)
    return sparsewave.Vocoder.load(path), tensors, cfg


def _assert_same_probabilities(got, want):
    for half in (slice(0, 256), slice(256, 512)):
        p, q = _softmax(got[:, half].astype(np.float64)), _softmax(want[:, half])
        big = q > 1e-12  # relative error is meaningless below float32's range of exp
        assert np.max(np.abs(p - q)[big] / q[big]) < 1e-5


@pytest.mark.parametrize("frames", [1, 7, 13])
def test_teacher_forced_probabilities(isa, model, rng, frames):
    v, tensors, cfg = model
    L = frames * HOP
    mels = rng.standard_normal((frames, MELS)).astype(np.float32)
    audio = np.clip(rng.standard_normal(L) * 0.3, -1, 1).astype(np.float32)
    got = v.logits(mels, audio)
    want = ref.run(tensors, cfg, mels, L, audio=audio.astype(np.float64))
    assert got.shape == (L, 512)
    _assert_same_probabilities(got, want["logits"][:L])
    c, f = want["coarse"][:L], want["fine"][:L]
    lp = np.log2(_softmax(want["logits"][:L, :256])[np.arange(L), c]) + \
        np.log2(_softmax(want["logits"][:L, 256:])[np.arange(L), f])
    assert v.nll(mels, audio) == pytest.approx(-lp.mean(), rel=1e-5)


def test_sampling_with_given_uniforms(isa, model, rng):
    v, tensors, cfg = model
    frames = 9
    L, B = frames * HOP, cfg["sub_tensors"]
    T = -(-L // B)
    mels = rng.standard_normal((frames, MELS)).astype(np.float32)
    u = rng.random((T * B, 2))
    u[L:] = 0.5  # the folded padding draws with u = 0.5 (docs/subscale.md)
    y = v.synthesize(mels, uniforms=u[:L].astype(np.float32))
    want = ref.run(tensors, cfg, mels, L, uniforms=u.astype(np.float32).astype(np.float64))
    assert y.shape == (L,)
    # Free running in the engine's order: identical until the first step holding a draw whose
    # margin is <= 1e-5 (after a legitimate flip the runs follow different histories).
    low = want["step"][np.nonzero(want["margins"].min(axis=1) <= 1e-5)[0]]
    first_low_step = low.min() if len(low) else np.inf
    sure = want["step"][:L] < first_low_step
    np.testing.assert_allclose(y[sure], want["audio"][sure], atol=1e-6)
    assert sure.sum() > 0 or len(low)


def test_engine_never_reads_ahead(model, rng):
    """Poison: the reference fills ungenerated grid slots with NaN; its audio is finite, and the
    engine's samples equal it wherever no low-margin draw came before."""
    v, tensors, cfg = model
    mels = rng.standard_normal((4, MELS)).astype(np.float32)
    L, B = 4 * HOP, cfg["sub_tensors"]
    u = np.full((-(-L // B) * B, 2), 0.5)
    u[:L] = rng.random((L, 2))
    want = ref.run(tensors, cfg, mels, L, uniforms=u, poison=True)
    assert np.all(np.isfinite(want["audio"]))


def test_folded_threads_agree(model, rng):
    v, *_ = model
    mels = rng.standard_normal((12, MELS)).astype(np.float32)
    y1 = v.synthesize(mels, seed=5, batched=True, target=40, overlap=10, threads=1)
    y2 = v.synthesize(mels, seed=5, batched=True, target=40, overlap=10, threads=2)
    assert y1.shape == (120,) and np.array_equal(y1, y2) and np.all(np.abs(y1) <= 1)
    y3 = v.synthesize(mels, seed=5)
    assert np.array_equal(y3, v.synthesize(mels, seed=5))  # deterministic for a seed


def test_describe_and_macs(model):
    v, tensors, cfg = model
    d = v.describe()
    G = _groups(cfg)
    assert d["family"] == "subscale" and d["sub_tensors"] == cfg["sub_tensors"]
    assert d["fused"] == bool(cfg.get("fused"))
    assert d["steps_to_first_audio"] == (G - 1) * cfg["horizon"] + 1
    N, C, D, E, B = (cfg[k] for k in ("hidden", "context_channels", "context_layers", "context_features",
                                      "sub_tensors"))
    assert d["context_macs_per_step"] == C * B + 2 * C * C * D + C * G * E
    names = [m["name"] for m in d["matrices"]]
    heads = [f"O{i}" for i in range(1, 9 if cfg.get("fused") else 5)]
    assert "ctx.proj" in names and all(h in names for h in heads) and "O9" not in names
    nonzero, stored = v.loop_macs
    # Per sample: the cell and ctx.proj run once per group of B / G samples, the stack once per B.
    cell = sum(int(np.count_nonzero(tensors[k + ".weight"])) for k in ["R"] + heads)
    per_group = cell + int(np.count_nonzero(tensors["ctx.proj.weight"]))
    assert nonzero == per_group // (B // G) + d["context_macs_per_step"] // B
    assert stored >= nonzero


def test_streaming_is_refused(model):
    v, *_ = model
    with pytest.raises(ValueError, match="cannot stream"):
        v.streamer()
    with pytest.raises(ValueError, match="cannot stream"):
        list(v.stream(np.zeros((3, MELS), np.float32)))


def _write(tmp_path, tensors, cfg):
    return save_model(tmp_path / "m.sw", tensors, cfg)


@pytest.mark.parametrize("key,value,match", [
    ("sub_tensors", 0, "sub_tensors"), ("sub_tensors", 65, "sub_tensors"), ("horizon", 0, "horizon"),
    ("context_layers", 17, "context_layers"), ("context_channels", 0, "context_channels"),
    ("context_features", 0, "context_features"), ("fused", "yes", "fused"),
    ("sub_tensors", 3, "even"),  # with fused below
])
def test_bad_config_is_refused(tmp_path, key, value, match):
    tensors, cfg = random_subscale(16, sub_tensors=2, horizon=1, context_channels=4, context_layers=1,
                                   context_features=2, n_mels=MELS, hop_length=HOP, fused=match == "even")
    cfg = dict(cfg, **{key: value})
    with pytest.raises(ValueError, match=match):
        sparsewave.Vocoder.load(_write(tmp_path, tensors, cfg))


def test_fused_needs_four_parts_and_its_tensors(tmp_path):
    kw = dict(sub_tensors=2, horizon=1, context_channels=4, context_layers=1, context_features=2, n_mels=MELS,
              hop_length=HOP)
    tensors, cfg = random_subscale(18, **kw)  # hidden 18 is even but not a multiple of 4
    with pytest.raises(ValueError, match="multiple of 4"):
        sparsewave.Vocoder.load(_write(tmp_path, tensors, dict(cfg, fused=True)))
    # A plain model's tensors under fused: true (I has 3 columns, no O5..O8) are named, not misread.
    tensors, cfg = random_subscale(16, **kw)
    with pytest.raises(ValueError, match=r"I\.weight"):
        sparsewave.Vocoder.load(_write(tmp_path, tensors, dict(cfg, fused=True)))
    fused, cfg = random_subscale(16, fused=True, **kw)
    del fused["O7.weight"]
    with pytest.raises(ValueError, match=r"O7\.weight"):
        sparsewave.Vocoder.load(_write(tmp_path, fused, cfg))
    with pytest.raises(ValueError, match="even"):
        random_subscale(16, fused=True, **dict(kw, sub_tensors=3))


def test_huge_context_history_is_refused(tmp_path):
    tensors, cfg = random_subscale(16, sub_tensors=2, horizon=1, context_channels=4, context_layers=1,
                                   context_features=2, n_mels=MELS, hop_length=HOP)
    cfg = dict(cfg, context_layers=13, context_channels=1024)  # 2^13 x 1024 floats of stack history
    with pytest.raises(ValueError, match="history"):
        sparsewave.Vocoder.load(_write(tmp_path, tensors, cfg))


@pytest.mark.parametrize("name,shape", [("ctx.in.weight", None), ("ctx.conv0.weight", (4, 4, 3)),
                                        ("ctx.out.bias", (3,)), ("ctx.proj.weight", (48, 3))])
def test_bad_context_tensor_is_refused(tmp_path, name, shape):
    tensors, cfg = random_subscale(16, sub_tensors=2, horizon=1, context_channels=4, context_layers=1,
                                   context_features=2, n_mels=MELS, hop_length=HOP)
    if shape is None:
        del tensors[name]
    else:
        tensors[name] = np.zeros(shape, np.float32)
    with pytest.raises(ValueError, match=name.replace(".", r"\.")):
        sparsewave.Vocoder.load(_write(tmp_path, tensors, cfg))


@pytest.mark.parametrize("threads", [2, 3, 16])
def test_threads_split_the_sub_tensors_with_the_same_output(model, rng, threads):
    v, tensors, cfg = model
    mels = rng.standard_normal((9, MELS)).astype(np.float32)
    one = v.synthesize(mels, seed=11)
    if _groups(cfg) == 1:  # nothing to split: the plain loop's rule
        with pytest.raises(ValueError, match="batched"):
            v.synthesize(mels, seed=11, threads=threads)
        return
    assert np.array_equal(v.synthesize(mels, seed=11, threads=threads), one)
    u = rng.random((9 * HOP, 2)).astype(np.float32)
    assert np.array_equal(v.synthesize(mels, uniforms=u, threads=threads), v.synthesize(mels, uniforms=u))


def test_threads_with_progress_and_cancel(model, rng):
    v, tensors, cfg = model
    if _groups(cfg) == 1:
        pytest.skip("one group has one thread")
    mels = rng.standard_normal((40, MELS)).astype(np.float32)
    seen = []
    y = v.synthesize(mels, seed=1, threads=2, progress=seen.append)
    assert seen and seen[-1] == len(y) and all(a <= b for a, b in zip(seen, seen[1:]))

    def cancel(done):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        v.synthesize(mels, seed=1, threads=2, progress=cancel)


def test_one_active_sub_tensor_per_thread_keeps_the_bits(tmp_path):
    """A replayed case where a thread had one active sub-tensor in the ramp and the single-vector
    kernel (another summation order) made threads=2 draw differently from one thread."""
    tensors, cfg = random_subscale(32, 0.3, (4, 4), seed=48, n_mels=MELS, hop_length=HOP, sub_tensors=16, horizon=3,
                                   context_channels=6, context_layers=2, context_features=3)
    v = sparsewave.Vocoder.load(_write(tmp_path, tensors, cfg))
    rng = np.random.default_rng(1851648672)
    mels = rng.standard_normal((9, MELS)).astype(np.float32)
    uniforms = rng.random((9 * HOP, 2)).astype(np.float32)
    assert np.array_equal(v.synthesize(mels, uniforms=uniforms, threads=2), v.synthesize(mels, uniforms=uniforms))
