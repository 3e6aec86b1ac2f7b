"""Mixed precision: Vocoder.load(..., float_matrices=NAMES) keeps those per-sample matrices float32
whatever ``weights`` says (the CLI's --float-matrices)."""
from __future__ import annotations

import numpy as np
import pytest

import sparsewave
from sparsewave.weights import int8_matrix_columns, save_model
from test_weight_file_int8 import KINDS, _inputs, _model


@pytest.fixture(scope="module", params=KINDS)
def model(request, tmp_path_factory):
    tensors, cfg = _model(request.param)
    return save_model(tmp_path_factory.mktemp(request.param) / "f32.sw", tensors, cfg), cfg


def _dtypes(voc) -> list[str]:
    return [m["dtype"] for m in voc.describe()["matrices"] if m.get("per_sample")]


@pytest.mark.parametrize("weights", ["int8", "int8a16", "float16"])
def test_every_loop_matrix_kept_float_is_the_float32_model(model, weights):
    path, cfg = model
    names = tuple(int8_matrix_columns(cfg))
    mixed = sparsewave.Vocoder.load(path, weights=weights, float_matrices=names)
    assert set(_dtypes(mixed)) == {"float32"}
    mels, audio = _inputs(cfg, seed=2)
    plain = sparsewave.Vocoder.load(path)
    np.testing.assert_array_equal(mixed.logits(mels, audio), plain.logits(mels, audio))
    np.testing.assert_array_equal(mixed.synthesize(mels, seed=4), plain.synthesize(mels, seed=4))


def test_one_float_matrix_leaves_the_others_in_int8(model):
    path, cfg = model
    names = list(int8_matrix_columns(cfg))
    all_int8 = _dtypes(sparsewave.Vocoder.load(path, weights="int8a16"))
    assert "int8a16" in all_int8
    mixed = sparsewave.Vocoder.load(path, weights="int8a16", float_matrices=(names[-1],))  # a string list
    got = _dtypes(mixed)
    assert len(got) == len(all_int8)
    assert sum(a != b for a, b in zip(got, all_int8)) == 1  # exactly the named matrix changed ...
    assert sorted(set(got)) == sorted({"float32", "int8a16"} | ({"float32"} & set(all_int8)))  # ... to float32
    # A single string is one name, not a list of its characters; a dotted prefix selects too.
    assert _dtypes(sparsewave.Vocoder.load(path, weights="int8a16", float_matrices=names[-1])) == got
    prefix = names[-1].rsplit(".", 1)[0]  # "fc3" for "fc3.weight"
    assert _dtypes(sparsewave.Vocoder.load(path, weights="int8a16", float_matrices=[prefix])) == got
    with pytest.raises(ValueError):  # a prefix must end at a dot: "fc" is not "fc3"
        sparsewave.Vocoder.load(path, weights="int8a16", float_matrices=[prefix[:-1]])
    # The mixed model lies between the two, and is neither.
    mels, audio = _inputs(cfg, seed=3)
    logits = {w: sparsewave.Vocoder.load(path, weights=w).logits(mels, audio) for w in ("float32", "int8a16")}
    m = mixed.logits(mels, audio)
    assert not np.array_equal(m, logits["float32"]) and not np.array_equal(m, logits["int8a16"])


def test_unknown_name_is_refused_naming_the_real_ones(model):
    path, cfg = model
    with pytest.raises(ValueError) as e:
        sparsewave.Vocoder.load(path, weights="int8", float_matrices=("fc9.weight",))
    msg = str(e.value)
    assert "fc9.weight" in msg and "float_matrices" in msg
    for name in int8_matrix_columns(cfg):
        assert name in msg


@pytest.mark.parametrize("bad", [5, ["fc3.weight", 3], [""], [None]])
def test_float_matrices_type_errors(model, bad):
    path, _ = model
    with pytest.raises(TypeError, match="float_matrices"):
        sparsewave.Vocoder.load(path, weights="int8", float_matrices=bad)


def test_cli_float_matrices(model, capsys):
    from sparsewave.cli import main

    path, cfg = model
    last = list(int8_matrix_columns(cfg))[-1]
    assert main(["info", str(path), "--weights", "int8a16", "--float-matrices", last]) == 0
    out = capsys.readouterr().out
    assert "float32" in out and "int8a16" in out
    with pytest.raises(SystemExit) as e:
        main(["info", str(path), "--weights", "int8", "--float-matrices", f"{last},"])
    assert e.value.code == 2
    assert "comma-separated matrix names" in capsys.readouterr().err
    assert main(["info", str(path), "--weights", "int8", "--float-matrices", "nope.weight"]) != 0
    assert "nope.weight" in capsys.readouterr().err
