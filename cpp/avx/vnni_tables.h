// Kernel tables whose int8 products run on VNNI's vpdpbusd (int8_vnni.h).
// Each exists where CMakeLists.txt compiles its file (the compiler must
// know the instruction set); the emulated one is linked into the tests only.
#pragma once
#include "kernels/table.h"

namespace sparsewave {

#if defined(SPARSEWAVE_HAVE_AVX_VNNI)
const KernelTable& avx2_vnni_kernels();    // avx2 + AVX-VNNI int8 products
#endif
#if defined(SPARSEWAVE_HAVE_AVX512_VNNI)
const KernelTable& avx512_vnni_kernels();  // avx512 + AVX-512 VNNI int8 products
#endif
// avx2 + the VNNI kernels over an exact AVX2 stand-in for vpdpbusd: runs on
// any AVX2 machine (tests only).
const KernelTable& avx2_vnni_emulated_kernels();

}  // namespace sparsewave
