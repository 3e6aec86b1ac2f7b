// Kernel function tables: one per instruction set, chosen once at run time
// (kernels/dispatch.h). Each ISA's table starts as a copy of the generic one
// and overrides only the slots that ISA implements.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/bsr_view.h"
#include "kernels/elementwise.h"

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

// int8 product: y[r] (=|+=) float(acc[r]) * (a.row_scale[r] * x_scale), with
// acc[r] = sum_c values_i8[r,c] * xq[c] exact in int32 (xq in [-127, 127],
// padded_cols of them; see QuantizeFn). Every ISA gives the same bits.
using SpmvI8Fn = void (*)(const BsrView& a, const int8_t* xq, float x_scale, float* y, int rb_begin, int rb_end,
                          bool accumulate);

// The same product for a matrix whose int8 weights are pair-bounded
// (BlockSparseMatrix::pair_bounded: |w[2i]| + |w[2i+1]| <= 128 inside each
// 4-column group), given xu = xq + 128 as unsigned bytes: acc[r] = sum w * xu
// - 128 * row_sum[r], which equals SpmvI8Fn's acc (same bits out). Only ISAs
// whose instructions need the bound fill it (AVX2's vpmaddubsw cannot
// saturate then); a null slot means spmv_i8 runs.
using SpmvU8Fn = void (*)(const BsrView& a, const uint8_t* xu, float x_scale, float* y, int rb_begin, int rb_end,
                          bool accumulate);

// nvec int8 products in one pass over the weights (Subscale's sub-tensors,
// batched streams): vector v's quantized x at xq + v * ldq (padded_cols
// bytes, its own scale x_scale[v]), its y at y + v * ldy. Each y equals
// SpmvI8Fn's for that vector bit for bit (integer sums are exact in any
// order; the rescale is the same float arithmetic).
using SpmvManyI8Fn = void (*)(const BsrView& a, const int8_t* xq, std::ptrdiff_t ldq, const float* x_scale, float* y,
                              std::ptrdiff_t ldy, int nvec, int rb_begin, int rb_end, bool accumulate);
// The same for pair-bounded weights, given each vector's xu = xq + 128 (as SpmvU8Fn).
using SpmvManyU8Fn = void (*)(const BsrView& a, const uint8_t* xu, std::ptrdiff_t ldq, const float* x_scale, float* y,
                              std::ptrdiff_t ldy, int nvec, int rb_begin, int rb_end, bool accumulate);

// int8 weights times 16-bit inputs ("int8a16": the inputs keep 15 bits, so
// quantizing them costs next to nothing in accuracy): acc[r] = sum_c
// values_i8[r,c] * xq[c] exact in int32, xq in [-qmax, qmax] with the
// matrix's input_qmax (BlockSparseMatrix::input_qmax: at most kInputQmaxCap,
// and small enough that no row's sum of |w| * qmax passes 2^31 - 1); y as
// SpmvI8Fn. Every ISA gives the same bits.
//
// The cap is 16383 (14 bits and a sign), not 32767: then x = 128 * hi + lo
// with hi in [-128, 127] and lo in [0, 127], two int8 bytes, and the
// dot-product instructions (sdot, VNNI) run the product as two int8 ones.
constexpr int kInputQmaxCap = 16383;
using SpmvI8A16Fn = void (*)(const BsrView& a, const int16_t* xq, float x_scale, float* y, int rb_begin, int rb_end,
                             bool accumulate);

// The same product from the inputs as "quads", a layout for dot-product
// instructions written by QuantizeI16QuadsFn: per 4 columns, their codes'
// 4 high bytes (code >> 7) then 4 low bytes (code & 127), so one 8-byte load
// feeds both int8 products of a block. Tables without it leave both null.
using SpmvI8A16QuadsFn = void (*)(const BsrView& a, const int8_t* quads, float x_scale, float* y, int rb_begin,
                                  int rb_end, bool accumulate);

// nvec int8a16 products in one pass over the weights (batched streams,
// Subscale): vector v's int16 x at xq + v * ldq (padded_cols values, its own
// scale x_scale[v]), its y at y + v * ldy; each y equals SpmvI8A16Fn's bit
// for bit.
using SpmvManyI8A16Fn = void (*)(const BsrView& a, const int16_t* xq, std::ptrdiff_t ldq, const float* x_scale,
                                 float* y, std::ptrdiff_t ldy, int nvec, int rb_begin, int rb_end, bool accumulate);

// Quantizes n floats to int8 for an int8 product and returns their scale:
// m = max |x|, q = round-half-even(x * (127 / m)) in [-127, 127], scale =
// m / 127 (all float32, so NumPy reproduces it bit for bit). m below
// kQuantizeTinyMax (all-zero, n = 0, or so small that 127 / m would
// overflow) gives q = 0 and scale 0; a NaN or Inf anywhere gives q = 0 and a
// NaN scale, so the product comes out NaN rather than silently wrong.
constexpr float kQuantizeTinyMax = 1e-30f;
using QuantizeFn = float (*)(const float* x, int n, int8_t* q);
// The same rule to int16 with largest code qmax (1..32767; the products use
// at most kInputQmaxCap) in place of 127:
// q = round-half-even(x * (qmax / m)), scale = m / qmax.
using QuantizeI16Fn = float (*)(const float* x, int n, int16_t* q, int qmax);
// That rule's codes written as quads (SpmvI8A16QuadsFn) over padded_n columns
// (a multiple of 4; codes past n are 0): 2 * padded_n bytes; qmax at most
// kInputQmaxCap, so every high byte fits int8.
using QuantizeI16QuadsFn = float (*)(const float* x, int n, int padded_n, int8_t* quads, int qmax);

// The kernels for one block shape. The _f16 ones read BsrView::values_f16,
// widened to float32 in registers (arithmetic stays float32); spmm has no
// float16 form (it runs at load time, on the float32 values).
struct BlockKernels {
  SpmvFn spmv = nullptr;
  SpmvManyFn spmv_many = nullptr;
  SpmmFn spmm = nullptr;
  SpmvFn spmv_f16 = nullptr;
  SpmvManyFn spmv_many_f16 = nullptr;
  SpmvI8Fn spmv_i8 = nullptr;  // 8x4 and 4x4 only (store_int8 refuses other shapes)
  SpmvU8Fn spmv_i8_pair = nullptr;  // pair-bounded int8 matrices; may stay null
  SpmvManyI8Fn spmv_many_i8 = nullptr;       // may stay null: spmv_i8 then runs once per vector
  SpmvManyU8Fn spmv_many_i8_pair = nullptr;  // may stay null: as spmv_i8_pair
  SpmvI8A16Fn spmv_i8a16 = nullptr;          // 8x4 and 4x4 only
  SpmvManyI8A16Fn spmv_many_i8a16 = nullptr;  // may stay null: spmv_i8a16 then runs once per vector
  SpmvI8A16QuadsFn spmv_i8a16_quads = nullptr;  // may stay null; used with KernelTable::quantize_i16_quads
};

struct KernelTable {
  const char* name = "";
  BlockKernels shape_4x4, shape_8x4, shape_16x1, shape_1x4, shape_1x1;
  ElementwiseKernels elementwise;
  QuantizeFn quantize = nullptr;
  QuantizeI16Fn quantize_i16 = nullptr;
  QuantizeI16QuadsFn quantize_i16_quads = nullptr;  // may stay null (see SpmvI8A16QuadsFn)
  // The _pair slots (x as xu = xq + 128) are exact for every int8 matrix, not
  // only pair-bounded ones (VNNI's vpdpbusd has no int16 step): products then
  // always take them, flipping x once per product instead of per block.
  bool pair_slots_any_weights = false;

  // The slots for a block shape (see is_supported_block); others get 1x1's.
  const BlockKernels& block(int block_rows, int block_cols) const {
    if (block_rows == 4 && block_cols == 4) return shape_4x4;
    if (block_rows == 8 && block_cols == 4) return shape_8x4;
    if (block_rows == 16 && block_cols == 1) return shape_16x1;
    if (block_rows == 1 && block_cols == 4) return shape_1x4;
    return shape_1x1;
  }
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
const KernelTable& neon_dotprod_kernels();  // neon + sdot int8 kernels
#endif

// The generic spmm for any supported shape: the ISA spmm kernels hand it the
// columns left over after their last whole vector.
void generic_spmm(const BsrView& a, const float* x, std::ptrdiff_t ldx,
                  float* y, std::ptrdiff_t ldy, int n, int rb_begin,
                  int rb_end, bool accumulate);

}  // namespace sparsewave
