"""sparsewave: an on-device neural vocoder engine.

The C++ core (``sparsewave._core``) holds block-sparse kernels for x86 AVX2,
AVX-512 and ARM NEON, picked at run time; this package is its thin Python face.
"""
from ._isa import available_isas, cpu_features, isa, set_isa
from .sparse import BlockSparseMatrix
from .vocoder import Vocoder

__version__ = "0.1.0"

__all__ = ["BlockSparseMatrix", "Vocoder", "available_isas", "cpu_features", "isa", "set_isa", "__version__"]
