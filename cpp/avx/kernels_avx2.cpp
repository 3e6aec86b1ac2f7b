// AVX2 + FMA (+ F16C) kernels (compiled with -mavx2 -mfma -mf16c; only
// called after CPUID says the CPU has all three). Everything here stays in an
// anonymous namespace so no AVX2-compiled inline function can leak into
// portable code via the linker.
#include <immintrin.h>

#include "avx/int8_avx2.h"
#include "avx/many_wide_avx2.h"
#include "avx/row4_avx2.h"
#include "kernels/spmv_many_groups.h"
#include "kernels/table.h"

namespace sparsewave {
namespace {

// Sums each 4-float group of two 8-lane accumulators: rows 0,1 in `r01`,
// rows 2,3 in `r23` -> [row0 row1 row2 row3].
inline __m128 reduce_4x4_rows(__m256 r01, __m256 r23) {
  __m256 h = _mm256_hadd_ps(r01, r23);  // r0a r0b r2a r2b | r1a r1b r3a r3b
  h = _mm256_hadd_ps(h, h);             // r0 r2 r0 r2 | r1 r3 r1 r3
  return _mm_unpacklo_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

// Where block k's weights come from (first or second 8 of its 16): float32,
// or float16 widened on load (half the bytes; the products are bound by
// cache bandwidth).
struct F32 {
  static __m256 load(const BsrView& a, std::ptrdiff_t k, int part) { return _mm256_loadu_ps(a.values + k * 16 + part * 8); }
};
struct F16 {
  static __m256 load(const BsrView& a, std::ptrdiff_t k, int part) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a.values_f16 + k * 16 + part * 8)));
  }
};

// What differs between the two block shapes. A block's 16 weights fill two
// registers, `lo` and `hi`: rows 0,1 and 2,3 of a 4x4 block (each lane a
// partial over one of its columns), or rows 0-7 and 8-15 of a 16x1 block.
struct Shape4x4 {
  static constexpr int rows = 4;
  // x[c..c+4) in both halves, to meet each row's four weights.
  static __m256 x(const float* p) { return _mm256_broadcast_ps(reinterpret_cast<const __m128*>(p)); }
  static void store(float* yr, __m256 lo, __m256 hi, bool accumulate) {
    __m128 sum = reduce_4x4_rows(lo, hi);
    if (accumulate) sum = _mm_add_ps(sum, _mm_loadu_ps(yr));
    _mm_storeu_ps(yr, sum);
  }
};
struct Shape16x1 {
  static constexpr int rows = 16;
  static __m256 x(const float* p) { return _mm256_broadcast_ss(p); }
  static void store(float* yr, __m256 lo, __m256 hi, bool accumulate) {
    if (accumulate) {
      lo = _mm256_add_ps(lo, _mm256_loadu_ps(yr));
      hi = _mm256_add_ps(hi, _mm256_loadu_ps(yr + 8));
    }
    _mm256_storeu_ps(yr, lo);
    _mm256_storeu_ps(yr + 8, hi);
  }
};

// The blocks [k, end) of one block row, summed, in `lo` and `hi` (see the
// shapes); k ends at `end`, the next row's first block. Two accumulator
// pairs so consecutive blocks do not wait on FMA latency. The row loop stays
// lean (k carried over, the view's arrays in locals): at ~20 blocks per row
// the per-row work was an eighth of a 16x1 product.
template <class W, class Shape>
inline void block_row(const BsrView& a, const float* x, int32_t& k, int32_t end, __m256& lo, __m256& hi) {
  const int32_t* col = a.col_start;
  __m256 lo_a = _mm256_setzero_ps(), hi_a = _mm256_setzero_ps();
  __m256 lo_b = _mm256_setzero_ps(), hi_b = _mm256_setzero_ps();
  for (; k + 2 <= end; k += 2) {
    const __m256 xa = Shape::x(x + col[k]), xb = Shape::x(x + col[k + 1]);
    lo_a = _mm256_fmadd_ps(W::load(a, k, 0), xa, lo_a);
    hi_a = _mm256_fmadd_ps(W::load(a, k, 1), xa, hi_a);
    lo_b = _mm256_fmadd_ps(W::load(a, k + 1, 0), xb, lo_b);
    hi_b = _mm256_fmadd_ps(W::load(a, k + 1, 1), xb, hi_b);
  }
  if (k < end) {
    const __m256 xa = Shape::x(x + col[k]);
    lo_a = _mm256_fmadd_ps(W::load(a, k, 0), xa, lo_a);
    hi_a = _mm256_fmadd_ps(W::load(a, k, 1), xa, hi_a);
    ++k;
  }
  lo = _mm256_add_ps(lo_a, lo_b);
  hi = _mm256_add_ps(hi_a, hi_b);
}

template <class W, class Shape>
void spmv(const BsrView& view, const float* x, float* y, int rb_begin, int rb_end, bool accumulate) {
  const BsrView a = view;  // a local copy: stores to y cannot change it, so nothing is reloaded per row
  int32_t k = a.row_ptr[rb_begin];
  for (int rb = rb_begin; rb < rb_end; ++rb) {
    __m256 lo, hi;
    block_row<W, Shape>(a, x, k, a.row_ptr[rb + 1], lo, hi);
    Shape::store(y + static_cast<std::ptrdiff_t>(rb) * Shape::rows, lo, hi, accumulate);
  }
}

// 4x4 with two block rows per horizontal reduction (three hadds and a permute
// give 8 outputs): short rows at high sparsity are dominated by it.
template <class W>
void spmv_4x4(const BsrView& view, const float* x, float* y, int rb_begin, int rb_end, bool accumulate) {
  const BsrView a = view;
  int rb = rb_begin;
  int32_t k = a.row_ptr[rb];
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  for (; rb + 2 <= rb_end; rb += 2) {
    __m256 a01, a23, b01, b23;
    block_row<W, Shape4x4>(a, x, k, a.row_ptr[rb + 1], a01, a23);
    block_row<W, Shape4x4>(a, x, k, a.row_ptr[rb + 2], b01, b23);
    const __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(a01, a23), _mm256_hadd_ps(b01, b23));  // A0 A2 B0 B2 | A1 A3 B1 B3
    __m256 out = _mm256_permutevar8x32_ps(h, order);
    float* yr = y + static_cast<std::ptrdiff_t>(rb) * 4;
    if (accumulate) out = _mm256_add_ps(out, _mm256_loadu_ps(yr));
    _mm256_storeu_ps(yr, out);
  }
  spmv<W, Shape4x4>(a, x, y, rb, rb_end, accumulate);
}

// Batched product over 8-column chunks. For a block of BR rows x BC columns,
// rows are processed GROUP at a time so the accumulators stay in registers.
template <int BR, int BC, int GROUP>
void spmm_chunked(const BsrView& a, const float* x, std::ptrdiff_t ldx,
                  float* y, std::ptrdiff_t ldy, int n, int rb_begin,
                  int rb_end, bool accumulate) {
  int j0 = 0;
  for (; j0 + 8 <= n; j0 += 8) {
    for (int rb = rb_begin; rb < rb_end; ++rb) {
      for (int g = 0; g < BR; g += GROUP) {
        float* yg = y + (static_cast<std::ptrdiff_t>(rb) * BR + g) * ldy + j0;
        __m256 acc[GROUP];
        for (int r = 0; r < GROUP; ++r)
          acc[r] = accumulate ? _mm256_loadu_ps(yg + r * ldy) : _mm256_setzero_ps();
        for (int32_t k = a.row_ptr[rb]; k < a.row_ptr[rb + 1]; ++k) {
          const float* blk = a.values + static_cast<std::ptrdiff_t>(k) * BR * BC + g * BC;
          const float* xc = x + a.col_start[k] * ldx + j0;
          for (int c = 0; c < BC; ++c) {
            const __m256 xv = _mm256_loadu_ps(xc + c * ldx);
            for (int r = 0; r < GROUP; ++r)
              acc[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(blk + r * BC + c), xv, acc[r]);
          }
        }
        for (int r = 0; r < GROUP; ++r) _mm256_storeu_ps(yg + r * ldy, acc[r]);
      }
    }
  }
  if (j0 < n)
    generic_spmm(a, x + j0, ldx, y + j0, ldy, n - j0, rb_begin, rb_end, accumulate);
}

// Up to 4 vectors per pass: each block is loaded once and used NV times.
template <class W, class Shape>
struct Many {
  template <int NV>
  struct Group {
    static void run(const BsrView& a, const float* x, std::ptrdiff_t ldx, float* y, std::ptrdiff_t ldy,
                    int rb_begin, int rb_end, bool accumulate) {
      for (int rb = rb_begin; rb < rb_end; ++rb) {
        __m256 lo[NV], hi[NV];
        for (int v = 0; v < NV; ++v) lo[v] = hi[v] = _mm256_setzero_ps();
        for (int32_t k = a.row_ptr[rb]; k < a.row_ptr[rb + 1]; ++k) {
          const __m256 wl = W::load(a, k, 0), wh = W::load(a, k, 1);
          const float* xc = x + a.col_start[k];
          for (int v = 0; v < NV; ++v) {
            const __m256 xv = Shape::x(xc + v * ldx);
            lo[v] = _mm256_fmadd_ps(wl, xv, lo[v]);
            hi[v] = _mm256_fmadd_ps(wh, xv, hi[v]);
          }
        }
        for (int v = 0; v < NV; ++v)
          Shape::store(y + v * ldy + static_cast<std::ptrdiff_t>(rb) * Shape::rows, lo[v], hi[v], accumulate);
      }
    }
  };
};

// float32 4x4: 9 or more vectors take the vectors-in-lanes kernel (many_wide_avx2.cpp).
void spmv_many_4x4_f32(const BsrView& a, const float* x, std::ptrdiff_t ldx, float* y, std::ptrdiff_t ldy, int nvec,
                       int rb_begin, int rb_end, bool accumulate) {
  spmv_many_wide_4x4_avx2(a, x, ldx, y, ldy, nvec, rb_begin, rb_end, accumulate, spmv_many<Many<F32, Shape4x4>>);
}

}  // namespace

const KernelTable& avx2_kernels() {
  static const KernelTable table = [] {
    KernelTable t = generic_kernels();  // 1x1 stays generic
    t.name = "avx2";
    t.shape_4x4.spmv = spmv_4x4<F32>;
    t.shape_4x4.spmv_many = spmv_many_4x4_f32;
    t.shape_4x4.spmm = spmm_chunked<4, 4, 4>;
    t.shape_4x4.spmv_f16 = spmv_4x4<F16>;
    t.shape_4x4.spmv_many_f16 = spmv_many<Many<F16, Shape4x4>>;
    t.shape_16x1.spmv = spmv<F32, Shape16x1>;
    t.shape_16x1.spmv_many = spmv_many<Many<F32, Shape16x1>>;
    t.shape_16x1.spmm = spmm_chunked<16, 1, 8>;
    t.shape_16x1.spmv_f16 = spmv<F16, Shape16x1>;
    t.shape_16x1.spmv_many_f16 = spmv_many<Many<F16, Shape16x1>>;
    add_avx2_1x4_kernels(t);
    t.elementwise = avx2_elementwise();
    add_avx2_int8_kernels(t);
    add_avx2_int8_many_kernels(t);
    add_avx2_int8a16_kernels(t);
    return t;
  }();
  return table;
}

}  // namespace sparsewave
