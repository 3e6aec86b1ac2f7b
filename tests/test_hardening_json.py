"""Issue 14, defect 9: the engine's JSON reader (weight-file header and config) refuses what
Python's ``json`` refuses: numbers with leading zeros and strings that are not valid UTF-8.
(The C++ test cpp/tests/test_format.cpp covers the reader on its own, case by case.)"""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

import sparsewave
from sparsewave.weights import save_model

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))
from reference_models import wavernn_numpy as W  # noqa: E402


@pytest.fixture(scope="module")
def valid_file(tmp_path_factory) -> bytes:
    cfg = W.config_fatchord("RAW", {
        "voc_rnn_dims": 16, "voc_fc_dims": 8, "voc_compute_dims": 4, "voc_res_out_dims": 4,
        "voc_res_blocks": 1, "voc_upsample_factors": [2], "hop_length": 2, "num_mels": 4, "voc_pad": 1})
    p = W.random_params(cfg, seed=1)
    p = {k: (np.abs(v) + 0.5 if k.endswith("running_var") else v) for k, v in p.items()}
    path = save_model(tmp_path_factory.mktemp("json") / "ok.sw", p, cfg)
    sparsewave.Vocoder.load(path)
    return path.read_bytes()


def with_header(data: bytes, edit) -> bytes:
    """``data`` with its header bytes replaced by ``edit(header bytes)``."""
    (n,) = struct.unpack_from("<Q", data, 0)
    header = edit(data[8:8 + n])
    return struct.pack("<Q", len(header)) + header + data[8 + n:]


def load(tmp_path, data: bytes):
    path = tmp_path / "bad.sw"
    path.write_bytes(data)
    return sparsewave.Vocoder.load(path)


def test_leading_zero_in_the_config(valid_file, tmp_path):
    def edit(header: bytes) -> bytes:
        h = json.loads(header)
        h["__metadata__"]["config"] = h["__metadata__"]["config"].replace('"rnn_dims": 16', '"rnn_dims": 016')
        assert "016" in h["__metadata__"]["config"]
        return json.dumps(h).encode()
    data = with_header(valid_file, edit)
    with pytest.raises(json.JSONDecodeError):  # what Python makes of it
        json.loads(json.loads(data[8:8 + struct.unpack_from("<Q", data)[0]])["__metadata__"]["config"])
    with pytest.raises(ValueError, match=r"bad\.sw.*config.*leading zero"):
        load(tmp_path, data)


def test_leading_zero_in_the_header(valid_file, tmp_path):
    def edit(header: bytes) -> bytes:
        h = json.loads(header)
        begin, end = h["I.bias"]["data_offsets"]
        text = json.dumps(h)
        return text.replace(f'"data_offsets": [{begin}, {end}]', f'"data_offsets": [{begin}, 0{end}]', 1).encode()
    with pytest.raises(ValueError, match=r"bad\.sw.*leading zero"):
        load(tmp_path, with_header(valid_file, edit))


@pytest.mark.parametrize("raw", [b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xc3"])
def test_invalid_utf8_in_the_header(valid_file, tmp_path, raw):
    def edit(header: bytes) -> bytes:
        text = json.dumps(json.loads(header)).encode()
        assert b'"format": "sparsewave"' in text
        return text.replace(b'"format": "sparsewave"', b'"format": "sparsewave", "note": "' + raw + b'"', 1)
    data = with_header(valid_file, edit)
    with pytest.raises(UnicodeDecodeError):  # what Python makes of it
        data[8:8 + struct.unpack_from("<Q", data)[0]].decode()
    with pytest.raises(ValueError, match=r"bad\.sw.*UTF-8"):
        load(tmp_path, data)


def test_valid_utf8_is_kept(valid_file, tmp_path):
    def edit(header: bytes) -> bytes:
        text = json.dumps(json.loads(header)).encode()
        assert b'"format": "sparsewave"' in text
        return text.replace(b'"format": "sparsewave"', '"format": "sparsewave", "note": "é € 😀"'.encode(), 1)
    v = load(tmp_path, with_header(valid_file, edit))
    assert v.family == "fatchord"
