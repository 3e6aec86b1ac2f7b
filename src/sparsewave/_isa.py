"""Which kernel path (instruction set) the engine runs."""
from __future__ import annotations

from . import _core

# SPARSEWAVE_ISA forces a path for the whole process; a value this CPU cannot
# run is an error at import rather than a silent fallback.
_core.apply_isa_from_environment()


def isa() -> str:
    """Name of the kernel path in use: 'generic', 'avx2', 'avx2_vnni' (avx2 with
    AVX-VNNI int8 products), 'avx512', 'avx512_vnni' (avx512 with AVX-512 VNNI
    int8 products), 'neon' or 'neon_dotprod' (NEON with the armv8.2
    dot-product int8 kernels)."""
    return _core.isa()


def available_isas() -> list[str]:
    """Kernel paths this build can run on this CPU, slowest first."""
    return list(_core.available_isas())


def set_isa(name: str) -> None:
    """Force a kernel path by name, or 'auto' for the fastest available.

    Raises ValueError naming the available paths when ``name`` cannot run here.
    """
    if not isinstance(name, str):
        raise TypeError(f"ISA name must be a str, got {type(name).__name__}")
    _core.set_isa(name)


def cpu_features() -> dict[str, bool]:
    """CPU features the dispatcher sees (CPUID on x86, HWCAP on aarch64)."""
    return dict(_core.cpu_features())
