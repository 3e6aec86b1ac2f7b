"""Run-time ISA selection: controls, environment override and errors."""
import os
import platform
import subprocess
import sys

import pytest

import sparsewave


def test_available_isas_are_sane():
    names = sparsewave.available_isas()
    assert names[0] == "generic"
    assert sparsewave.isa() in names
    machine = platform.machine().lower()
    if machine in ("x86_64", "amd64"):
        assert set(names) <= {"generic", "avx2", "avx2_vnni", "avx512", "avx512_vnni"}
        feats = sparsewave.cpu_features()
        assert ("avx2" in names) == (feats["avx2"] and feats["fma"])
        assert ("avx512" in names) == (feats["avx512f"] and "avx2" in names)
        # The vpdpbusd int8 paths exactly where CPUID reports them (a compiler too old
        # for the instruction set leaves them out: then never present).
        if "avx2_vnni" in names:
            assert feats["avx_vnni"] and "avx2" in names
        if "avx512_vnni" in names:
            assert feats["avx512_vnni"] and "avx512" in names
    elif machine in ("aarch64", "arm64"):
        assert "neon" in names and sparsewave.cpu_features()["neon"]
        # The sdot int8 path exactly where HWCAP reports the dot product.
        assert ("neon_dotprod" in names) == sparsewave.cpu_features()["dotprod"]


def test_default_is_best_available():
    if os.environ.get("SPARSEWAVE_ISA"):
        pytest.skip("SPARSEWAVE_ISA forces a path in this run")
    sparsewave.set_isa("auto")
    assert sparsewave.isa() == sparsewave.available_isas()[-1]


def test_set_isa_roundtrip():
    previous = sparsewave.isa()
    try:
        for name in sparsewave.available_isas():
            sparsewave.set_isa(name)
            assert sparsewave.isa() == name
    finally:
        sparsewave.set_isa(previous)


@pytest.mark.parametrize("name", ["sse9", "", "NEON2"])
def test_set_isa_unknown(name):
    if name == "":
        pytest.skip("empty means auto")
    with pytest.raises(ValueError, match="available"):
        sparsewave.set_isa(name)


def test_set_isa_unavailable_path():
    foreign = "neon" if "neon" not in sparsewave.available_isas() else "avx2"
    with pytest.raises(ValueError, match="available"):
        sparsewave.set_isa(foreign)
    with pytest.raises(TypeError):
        sparsewave.set_isa(3)


def _run_with_env(value):
    env = dict(os.environ, SPARSEWAVE_ISA=value)
    return subprocess.run([sys.executable, "-c", "import sparsewave; print(sparsewave.isa())"],
                          env=env, capture_output=True, text=True, timeout=60)


def test_environment_forces_path():
    result = _run_with_env("generic")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "generic"


def test_environment_rejects_unavailable_path():
    result = _run_with_env("quantum")
    assert result.returncode != 0
    assert "SPARSEWAVE_ISA" in result.stderr and "available" in result.stderr
