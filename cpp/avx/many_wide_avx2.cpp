// Multi-vector block-sparse product with the vectors in the lanes: 16
// vectors are transposed into x^T (one 16-float row per column), so each
// weight is broadcast once and multiplies 8 vectors per FMA, and a block
// row's accumulators need no horizontal sums. Every vector's sums are taken
// in the same order as in the 4-vector kernel: the same bits for any count. The 4-vector kernel keeps a
// block in registers and broadcasts x instead; past 8 vectors its x no
// longer fits L1 and every block row ends in one reduction per vector.
// Compiled with -mavx2 -mfma; anonymous namespace as in kernels_avx2.cpp.
#include "avx/many_wide_avx2.h"

#include <immintrin.h>

#include <vector>

#include "matrix/aligned_buffer.h"

namespace sparsewave {
namespace {

constexpr int kWide = 16;  // vectors per pass: two registers per x^T row

// 8 rows of 8 floats (row i at src + i * ld) -> dst[c * kWide + i], c < 8.
inline void transpose_8x8(const float* src, std::ptrdiff_t ld, float* dst) {
  __m256 r[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * ld);
  __m256 t[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  __m256 u[8];
  for (int i = 0; i < 2; ++i) {
    u[4 * i + 0] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
    u[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
    u[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
    u[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
  }
  for (int c = 0; c < 4; ++c) {
    _mm256_storeu_ps(dst + c * kWide, _mm256_permute2f128_ps(u[c], u[c + 4], 0x20));
    _mm256_storeu_ps(dst + (c + 4) * kWide, _mm256_permute2f128_ps(u[c], u[c + 4], 0x31));
  }
}

// x^T of vectors [0, nv) (nv <= 16; the other lanes are zero), cols columns.
void transpose_in(const float* x, std::ptrdiff_t ldx, int nv, int cols, float* xt) {
  for (int h = 0; h < 2; ++h) {
    const int have = nv - 8 * h;  // vectors in this half
    const float* xs = x + 8 * h * ldx;
    int c = 0;
    if (have >= 8)
      for (; c + 8 <= cols; c += 8) transpose_8x8(xs + c, ldx, xt + c * kWide + 8 * h);
    for (; c < cols; ++c)
      for (int i = 0; i < 8; ++i) xt[c * kWide + 8 * h + i] = i < have ? xs[i * ldx + c] : 0.0f;
  }
}

// Rows row0..row0+3 of 8 vectors (r[i] lane j = row i of vector j) into
// y + j * ldy + row0, j < nv.
inline void store_rows(const __m256 r[4], float* y, std::ptrdiff_t ldy, int nv, bool accumulate) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 u[4] = {_mm256_shuffle_ps(t0, t2, 0x44), _mm256_shuffle_ps(t0, t2, 0xEE),
                       _mm256_shuffle_ps(t1, t3, 0x44), _mm256_shuffle_ps(t1, t3, 0xEE)};
  for (int j = 0; j < nv && j < 8; ++j) {
    const __m128 v = (j < 4) ? _mm256_castps256_ps128(u[j]) : _mm256_extractf128_ps(u[j - 4], 1);
    float* out = y + j * ldy;
    _mm_storeu_ps(out, accumulate ? _mm_add_ps(v, _mm_loadu_ps(out)) : v);
  }
}

// One pass over 16 vectors (x^T in xt), 4x4 blocks. Each vector's sums are
// taken in the 4-vector kernel's order (kernels_avx2.cpp), so a product's
// bits do not depend on how many vectors share it: per (row, column) of the
// block one accumulator
// (both halves of the 16 vectors), as the 4-vector kernel keeps one lane per
// (row, column), and the row sum (c0 + c1) + (c2 + c3) of its reduction.
// Passes of 2 rows x 2 columns keep 8 accumulators in registers; each x^T
// load serves 2 rows and each broadcast weight 16 vectors.
void wide_pass_4x4(const BsrView& a, const float* xt, float* y, std::ptrdiff_t ldy, int nv, int rb_begin, int rb_end,
                   bool accumulate) {
  const int32_t* col = a.col_start;
  for (int rb = rb_begin; rb < rb_end; ++rb) {
    const int32_t k0 = a.row_ptr[rb], k1 = a.row_ptr[rb + 1];
    __m256 rows[2][4];  // [half of the vectors][row]
    for (int r0 = 0; r0 < 4; r0 += 2) {
      __m256 first_pair[2][2];  // [row][half]: c0 + c1
      for (int c0 = 0; c0 < 4; c0 += 2) {
        __m256 acc[2][2][2];  // [row][column][half]
        for (auto& r : acc)
          for (auto& c : r) c[0] = c[1] = _mm256_setzero_ps();
        for (int32_t k = k0; k < k1; ++k) {
          const float* w = a.values + static_cast<std::ptrdiff_t>(k) * 16 + r0 * 4 + c0;
          const float* xc = xt + static_cast<std::ptrdiff_t>(col[k] + c0) * kWide;
          for (int c = 0; c < 2; ++c) {
            const __m256 x0 = _mm256_load_ps(xc + c * kWide), x1 = _mm256_load_ps(xc + c * kWide + 8);
            for (int r = 0; r < 2; ++r) {
              const __m256 wb = _mm256_broadcast_ss(w + r * 4 + c);
              acc[r][c][0] = _mm256_fmadd_ps(wb, x0, acc[r][c][0]);
              acc[r][c][1] = _mm256_fmadd_ps(wb, x1, acc[r][c][1]);
            }
          }
        }
        for (int r = 0; r < 2; ++r)
          for (int hf = 0; hf < 2; ++hf) {
            const __m256 pair = _mm256_add_ps(acc[r][0][hf], acc[r][1][hf]);
            if (c0 == 0)
              first_pair[r][hf] = pair;
            else
              rows[hf][r0 + r] = _mm256_add_ps(first_pair[r][hf], pair);
          }
      }
    }
    float* yr = y + static_cast<std::ptrdiff_t>(rb) * 4;
    store_rows(rows[0], yr, ldy, nv, accumulate);
    if (nv > 8) store_rows(rows[1], yr + 8 * ldy, ldy, nv - 8, accumulate);
  }
}

template <void (*Pass)(const BsrView&, const float*, float*, std::ptrdiff_t, int, int, int, bool)>
void many_wide(const BsrView& a, const float* x, std::ptrdiff_t ldx, float* y, std::ptrdiff_t ldy, int nvec,
               int rb_begin, int rb_end, bool accumulate,
               void (*narrow)(const BsrView&, const float*, std::ptrdiff_t, float*, std::ptrdiff_t, int, int, int,
                              bool)) {
  thread_local AlignedVector<float> xt;
  if (xt.size() < static_cast<std::size_t>(a.padded_cols) * kWide)
    xt.assign(static_cast<std::size_t>(a.padded_cols) * kWide, 0.0f);
  int v = 0;
  for (; nvec - v > 8; v += kWide) {
    const int nv = nvec - v < kWide ? nvec - v : kWide;
    transpose_in(x + v * ldx, ldx, nv, a.padded_cols, xt.data());
    Pass(a, xt.data(), y + v * ldy, ldy, nv, rb_begin, rb_end, accumulate);
  }
  if (v < nvec) narrow(a, x + v * ldx, ldx, y + v * ldy, ldy, nvec - v, rb_begin, rb_end, accumulate);
}

}  // namespace

void spmv_many_wide_4x4_avx2(const BsrView& a, const float* x, std::ptrdiff_t ldx, float* y, std::ptrdiff_t ldy,
                             int nvec, int rb_begin, int rb_end, bool accumulate,
                             void (*narrow)(const BsrView&, const float*, std::ptrdiff_t, float*, std::ptrdiff_t, int,
                                            int, int, bool)) {
  many_wide<wide_pass_4x4>(a, x, ldx, y, ldy, nvec, rb_begin, rb_end, accumulate, narrow);
}

}  // namespace sparsewave
