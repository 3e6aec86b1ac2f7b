// Kernel function tables: one per instruction set, chosen once at run time.
#pragma once
#include <cstddef>
#include "bsr_view.h"
#include "numerics/kernels_hook.h"

namespace sparsewave {

// y[r] (=|+=) sum_c A[r,c] x[c] for block rows [rb_begin, rb_end).
// x has A.padded_cols floats; y is indexed by padded row.
using SpmvFn = void (*)(const BsrView& a, const float* x, float* y,
                        int rb_begin, int rb_end, bool accumulate);

// Y[r, 0:n] (=|+=) sum_c A[r,c] X[c, 0:n]; X and Y are row-major with
// leading dimensions ldx and ldy (in floats).
using SpmmFn = void (*)(const BsrView& a, const float* x, std::ptrdiff_t ldx,
                        float* y, std::ptrdiff_t ldy, int n, int rb_begin,
                        int rb_end, bool accumulate);

// Y[v] (=|+=) A X[v] for nvec vectors stored one after another (X[v] at
// x + v * ldx, Y[v] at y + v * ldy): each block is loaded once for all of
// them (batched generation keeps one state vector per stream).
using SpmvManyFn = void (*)(const BsrView& a, const float* x, std::ptrdiff_t ldx, float* y,
                            std::ptrdiff_t ldy, int nvec, int rb_begin, int rb_end, bool accumulate);

// Kernels reading float16 weights (BsrView::values_f16), widened to float32
// in registers; arithmetic stays float32.
struct HalfKernels {
  SpmvFn spmv_4x4, spmv_16x1, spmv_1x1;
  SpmvManyFn spmv_many_4x4, spmv_many_16x1, spmv_many_1x1;
};

struct KernelTable {
  const char* name;
  SpmvFn spmv_4x4;
  SpmvFn spmv_16x1;
  SpmvFn spmv_1x1;
  SpmmFn spmm_4x4;
  SpmmFn spmm_16x1;
  SpmmFn spmm_1x1;
  SpmvManyFn spmv_many_4x4;
  SpmvManyFn spmv_many_16x1;
  SpmvManyFn spmv_many_1x1;
  HalfKernels f16;
  ElementwiseKernels elementwise;
};

// Each table exists only where its file is compiled in (see CMakeLists.txt).
const KernelTable& generic_kernels();
#if defined(SPARSEWAVE_HAVE_AVX2)
const KernelTable& avx2_kernels();
#endif
#if defined(SPARSEWAVE_HAVE_AVX512)
const KernelTable& avx512_kernels();
#endif
#if defined(SPARSEWAVE_HAVE_NEON)
const KernelTable& neon_kernels();
#endif

// Generic kernels, also used by the ISA kernels for tails (column remainders).
void generic_spmv(const BsrView& a, const float* x, float* y, int rb_begin,
                  int rb_end, bool accumulate);
void generic_spmv_many(const BsrView& a, const float* x, std::ptrdiff_t ldx, float* y, std::ptrdiff_t ldy,
                       int nvec, int rb_begin, int rb_end, bool accumulate);
void generic_spmv_f16(const BsrView& a, const float* x, float* y, int rb_begin, int rb_end, bool accumulate);
void generic_spmv_many_f16(const BsrView& a, const float* x, std::ptrdiff_t ldx, float* y, std::ptrdiff_t ldy,
                           int nvec, int rb_begin, int rb_end, bool accumulate);
void generic_spmm(const BsrView& a, const float* x, std::ptrdiff_t ldx,
                  float* y, std::ptrdiff_t ldy, int n, int rb_begin,
                  int rb_end, bool accumulate);

}  // namespace sparsewave
