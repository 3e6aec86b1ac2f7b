// C++ kernel test (ctest): every ISA path this CPU can run, on random
// block-sparse matrices of many shapes, against a double-precision dense
// reference, and its element-wise kernels (GRU update, softmax sampling,
// relu, weighted sums) against double-precision loops, at lengths around
// the vector widths, and the int8 products and quantizer against the generic
// ones bit for bit. Built natively and cross-built for aarch64 (run under
// qemu).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/dispatch.h"
#if defined(__x86_64__)
#include "avx/vnni_tables.h"
#endif
#include "matrix/block_sparse_matrix.h"

using sparsewave::BlockSparseMatrix;

namespace {

int g_failures = 0;
int g_checks = 0;

void check(bool ok, const std::string& what) {
  ++g_checks;
  if (!ok && g_failures++ < 20) std::fprintf(stderr, "FAIL: %s\n", what.c_str());
}

std::vector<float> random_block_sparse(std::mt19937& gen, int rows, int cols, int br, int bc, double density) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> w(static_cast<std::size_t>(rows) * cols, 0.0f);
  for (int rb = 0; rb * br < rows; ++rb)
    for (int cb = 0; cb * bc < cols; ++cb) {
      if (u(gen) >= density) continue;
      for (int r = rb * br; r < std::min(rows, (rb + 1) * br); ++r)
        for (int c = cb * bc; c < std::min(cols, (cb + 1) * bc); ++c) {
          float v = normal(gen);
          w[static_cast<std::size_t>(r) * cols + c] = v == 0.0f ? 1.0f : v;
        }
    }
  return w;
}

// |got - ref| <= 16 eps sqrt(K) * (|W| |X|), the float32 accumulation bound.
void compare(const std::vector<float>& w, int rows, int cols, const std::vector<float>& x, int n,
             const std::vector<float>& y0, const std::vector<float>& got, const std::string& label) {
  const double eps = std::numeric_limits<float>::epsilon();
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < n; ++j) {
      double ref = y0.empty() ? 0.0 : y0[static_cast<std::size_t>(i) * n + j];
      double mag = std::fabs(ref);
      for (int c = 0; c < cols; ++c) {
        const double p = static_cast<double>(w[static_cast<std::size_t>(i) * cols + c]) * x[static_cast<std::size_t>(c) * n + j];
        ref += p;
        mag += std::fabs(p);
      }
      const double g = got[static_cast<std::size_t>(i) * n + j];
      const double tol = 16 * eps * std::sqrt(cols + 1.0) * mag + 1e-30;
      if (!(std::fabs(g - ref) <= tol)) {  // also catches NaN (poison left in place)
        check(false, label + " row " + std::to_string(i) + " col " + std::to_string(j) + ": got " +
                         std::to_string(g) + ", expected " + std::to_string(ref));
        return;
      }
    }
  check(true, label);
}

void test_isa(const std::string& isa, std::mt19937& gen) {
  sparsewave::set_isa(isa);
  const int blocks[4][2] = {{4, 4}, {16, 1}, {1, 4}, {1, 1}};
  const int shapes[][2] = {{1, 1}, {3, 5}, {4, 4}, {17, 33}, {31, 16}, {64, 64}, {100, 37}, {257, 129}, {768, 256}};
  const double densities[] = {0.0, 0.03, 0.1, 0.5, 1.0};
  const int batches[] = {1, 3, 4, 5, 8, 9, 16, 17};
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (const auto& b : blocks)
    for (const auto& s : shapes)
      for (double d : densities) {
        const int rows = s[0], cols = s[1];
        const auto w = random_block_sparse(gen, rows, cols, b[0], b[1], d);
        const auto m = BlockSparseMatrix::from_dense(w.data(), rows, cols, b[0], b[1]);
        const std::string label = isa + " " + std::to_string(b[0]) + "x" + std::to_string(b[1]) + " " +
                                  std::to_string(rows) + "x" + std::to_string(cols) + " d=" + std::to_string(d);
        {  // float16 storage: exactly the float32 product of the rounded weights
          BlockSparseMatrix h = m;
          h.store_half();
          std::vector<float> rounded(static_cast<std::size_t>(rows) * cols);
          h.to_dense(rounded.data());
          for (int nvec : {1, 3, 5}) {
            std::vector<float> xs(static_cast<std::size_t>(cols) * nvec), ys(static_cast<std::size_t>(rows) * nvec, nan);
            for (auto& v : xs) v = normal(gen);
            if (nvec == 1) h.matvec(xs.data(), ys.data(), false);
            else h.matvec_many(xs.data(), nvec, ys.data(), false);
            std::vector<float> xt(xs.size()), yt(ys.size());
            for (int v = 0; v < nvec; ++v) {
              for (int c = 0; c < cols; ++c) xt[static_cast<std::size_t>(c) * nvec + v] = xs[static_cast<std::size_t>(v) * cols + c];
              for (int r = 0; r < rows; ++r) yt[static_cast<std::size_t>(r) * nvec + v] = ys[static_cast<std::size_t>(v) * rows + r];
            }
            compare(rounded, rows, cols, xt, nvec, {}, yt, label + " f16 n=" + std::to_string(nvec));
          }
        }
        for (int nvec : {2, 3, 4, 5, 9, 16, 21}) {  // multi-vector spmv (9+: the wide kernels): X is nvec x cols
          std::vector<float> xs(static_cast<std::size_t>(cols) * nvec), ys(static_cast<std::size_t>(rows) * nvec, nan);
          for (auto& v : xs) v = normal(gen);
          m.matvec_many(xs.data(), nvec, ys.data(), false);
          // Compare as a batch: transpose into the (cols x n) layout compare() expects.
          std::vector<float> xt(xs.size()), yt(ys.size());
          for (int v = 0; v < nvec; ++v) {
            for (int c = 0; c < cols; ++c) xt[static_cast<std::size_t>(c) * nvec + v] = xs[static_cast<std::size_t>(v) * cols + c];
            for (int r = 0; r < rows; ++r) yt[static_cast<std::size_t>(r) * nvec + v] = ys[static_cast<std::size_t>(v) * rows + r];
          }
          compare(w, rows, cols, xt, nvec, {}, yt, label + " many n=" + std::to_string(nvec));
        }
        for (int n : batches) {
          std::vector<float> x(static_cast<std::size_t>(cols) * n);
          for (auto& v : x) v = normal(gen);
          std::vector<float> y(static_cast<std::size_t>(rows) * n, nan);  // poisoned
          if (n == 1)
            m.matvec(x.data(), y.data(), false);
          else
            m.matmul(x.data(), n, y.data(), false);
          compare(w, rows, cols, x, n, {}, y, label + " B=" + std::to_string(n));
          // Accumulating form: y = y0 + A x.
          std::vector<float> y0(y.size());
          for (auto& v : y0) v = normal(gen);
          std::vector<float> acc = y0;
          if (n == 1)
            m.matvec(x.data(), acc.data(), true);
          else
            m.matmul(x.data(), n, acc.data(), true);
          compare(w, rows, cols, x, n, y0, acc, label + " accumulate B=" + std::to_string(n));
        }
      }
}

// --- int8: every table against the generic one, bit for bit ----------------

bool same_bits(const void* a, const void* b, std::size_t n) { return std::memcmp(a, b, n) == 0; }

// The generic quantizer and this table's on the same x: same bytes, same
// scale (NaN for NaN or Inf input). q is poisoned so every byte must be written.
void check_quantize(const sparsewave::KernelTable& t, const std::vector<float>& x, const std::string& label) {
  const int n = static_cast<int>(x.size());
  std::vector<int8_t> q_ref(x.size() + 1, int8_t{0x5a}), q(x.size() + 1, int8_t{0x5a});
  const float s_ref = sparsewave::generic_kernels().quantize(x.data(), n, q_ref.data());
  const float s = t.quantize(x.data(), n, q.data());
  const bool scale_ok = std::isnan(s_ref) ? std::isnan(s) : same_bits(&s, &s_ref, sizeof s);
  check(scale_ok && same_bits(q.data(), q_ref.data(), q.size()),
        label + " quantize n=" + std::to_string(n) + " (scale " + std::to_string(s) + " vs " + std::to_string(s_ref) + ")");
}

void test_quantize(const std::string& isa, std::mt19937& gen) {
  const auto& t = sparsewave::active_kernels();
  std::normal_distribution<float> normal(0.0f, 2.0f);
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  for (int n : {0, 1, 3, 4, 5, 7, 8, 15, 16, 17, 31, 32, 33, 47, 63, 64, 65, 100, 257, 1000}) {
    std::vector<float> x(n);
    for (auto& v : x) v = normal(gen);
    check_quantize(t, x, isa + " normal");
    if (n == 0) continue;
    // Exact halves round to even: max 127 makes the multiplier 1.
    for (int i = 0; i < n; ++i) x[i] = static_cast<float>(i % 9) - 4.5f;
    x[n - 1] = 127.0f;
    check_quantize(t, x, isa + " halves");
    x[gen() % n] = -127.0f;  // the max at either sign, anywhere
    check_quantize(t, x, isa + " halves, negative max");
    std::fill(x.begin(), x.end(), 0.0f);
    check_quantize(t, x, isa + " zeros");
    x[gen() % n] = -0.0f;
    check_quantize(t, x, isa + " zeros and -0");
    x[gen() % n] = 1e-30f;  // tiny max (under ~3.7e-37, 127 / m is Inf: not defined yet)
    check_quantize(t, x, isa + " tiny");
    for (float bad : {nan, inf, -inf}) {
      for (auto& v : x) v = normal(gen);
      x[gen() % n] = bad;
      check_quantize(t, x, isa + " non-finite " + std::to_string(bad));
      x[n - 1] = bad;  // in the scalar tail, if any
      check_quantize(t, x, isa + " non-finite last " + std::to_string(bad));
    }
    for (auto& v : x) v = normal(gen) * 1e37f;  // near the float range
    check_quantize(t, x, isa + " huge");
  }
}

// A block pattern (density d, every third block row empty when `holes`)
// with weights from `weight`.
template <class Weight>
std::vector<float> int8_weights(std::mt19937& gen, int rows, int cols, int br, int bc, double d, bool holes,
                                Weight weight) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<float> w(static_cast<std::size_t>(rows) * cols, 0.0f);
  for (int rb = 0; rb * br < rows; ++rb) {
    if (holes && rb % 3 == 1) continue;
    for (int cb = 0; cb * bc < cols; ++cb) {
      if (u(gen) >= d) continue;
      for (int r = rb * br; r < std::min(rows, (rb + 1) * br); ++r)
        for (int c = cb * bc; c < std::min(cols, (cb + 1) * bc); ++c) w[static_cast<std::size_t>(r) * cols + c] = weight();
    }
  }
  return w;
}

// This table's spmv_i8 against the generic one on the same quantized x, over
// all block rows and over an inner range, accumulating or not; y is poisoned
// (NaN) or random, identically for both, before each call. A pair-bounded
// matrix is also run through the table's spmv_i8_pair (on xu = xq + 128),
// when it has one, against the same generic result.
void check_spmv_i8(const sparsewave::KernelTable& t, const BlockSparseMatrix& m, const std::vector<float>& x,
                   std::mt19937& gen, const std::string& label) {
  const auto view = m.view();
  const int br = m.block_rows(), bc = m.block_cols(), nbr = m.n_block_rows();
  std::vector<float> xp(m.padded_cols(), 0.0f);
  std::copy(x.begin(), x.end(), xp.begin());
  std::vector<int8_t> xq(xp.size());
  const float xs = sparsewave::generic_kernels().quantize(xp.data(), m.padded_cols(), xq.data());
  std::vector<uint8_t> xu(xq.size());
  for (std::size_t i = 0; i < xq.size(); ++i) xu[i] = static_cast<uint8_t>(xq[i] + 128);
  const auto ref_fn = sparsewave::generic_kernels().block(br, bc).spmv_i8;
  const auto fn = t.block(br, bc).spmv_i8;
  const auto pair_fn = m.pair_bounded() || t.pair_slots_any_weights ? t.block(br, bc).spmv_i8_pair : nullptr;
  if (fn == nullptr) {
    check(false, label + ": no spmv_i8 kernel");
    return;
  }
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int ranges[][2] = {{0, nbr}, {std::min(1, nbr), std::max(std::min(1, nbr), nbr - 1)}};
  for (int kernel = 0; kernel < (pair_fn ? 2 : 1); ++kernel)
    for (const auto& range : ranges)
      for (bool accumulate : {false, true}) {
        std::vector<float> ref(m.padded_rows(), std::numeric_limits<float>::quiet_NaN());
        if (accumulate)
          for (auto& v : ref) v = normal(gen);
        std::vector<float> got = ref;
        ref_fn(view, xq.data(), xs, ref.data(), range[0], range[1], accumulate);
        if (kernel == 0)
          fn(view, xq.data(), xs, got.data(), range[0], range[1], accumulate);
        else
          pair_fn(view, xu.data(), xs, got.data(), range[0], range[1], accumulate);
        const std::string what = label + (kernel ? " pair kernel" : "") + " rows [" + std::to_string(range[0]) +
                                 ", " + std::to_string(range[1]) + ")" + (accumulate ? " accumulate" : "");
        if (!same_bits(got.data(), ref.data(), ref.size() * sizeof(float))) {
          std::size_t i = 0;
          while (same_bits(&got[i], &ref[i], sizeof(float))) ++i;
          check(false, what + ": y[" + std::to_string(i) + "] = " + std::to_string(got[i]) + ", generic " +
                           std::to_string(ref[i]));
        } else {
          check(true, what);
        }
      }
}

// This table's spmv_many_i8 (and spmv_many_i8_pair for a pair-bounded matrix),
// where it has them, against the generic spmv_i8 run once per vector: nvec
// vectors of different magnitudes (one all zero), each quantized on its own,
// over all block rows and an inner range, y poisoned (NaN) or random.
void check_spmv_many_i8(const sparsewave::KernelTable& t, const BlockSparseMatrix& m, std::mt19937& gen,
                        const std::string& label) {
  const int br = m.block_rows(), bc = m.block_cols(), nbr = m.n_block_rows(), pc = m.padded_cols();
  const int pr = m.padded_rows();
  const auto many = t.block(br, bc).spmv_many_i8;
  const auto many_pair = m.pair_bounded() || t.pair_slots_any_weights ? t.block(br, bc).spmv_many_i8_pair : nullptr;
  if (many == nullptr && many_pair == nullptr) return;  // this ISA runs spmv_i8 per vector
  const auto ref_fn = sparsewave::generic_kernels().block(br, bc).spmv_i8;
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (int nvec : {2, 5, 8, 9, 16}) {
    std::vector<int8_t> xq(static_cast<std::size_t>(nvec) * pc, 0);
    std::vector<uint8_t> xu(xq.size());
    std::vector<float> scales(nvec);
    for (int v = 0; v < nvec; ++v) {
      std::vector<float> x(pc, 0.0f);
      const float mag = v == nvec - 1 ? 0.0f : std::pow(10.0f, static_cast<float>(v % 5) - 2.0f);
      for (int c = 0; c < m.cols(); ++c) x[c] = normal(gen) * mag;
      scales[v] = sparsewave::generic_kernels().quantize(x.data(), pc, xq.data() + v * pc);
    }
    for (std::size_t i = 0; i < xq.size(); ++i) xu[i] = static_cast<uint8_t>(xq[i] + 128);
    const int ranges[][2] = {{0, nbr}, {std::min(1, nbr), std::max(std::min(1, nbr), nbr - 1)}};
    for (int kernel = 0; kernel < 2; ++kernel) {
      if ((kernel == 0 ? many == nullptr : many_pair == nullptr)) continue;
      for (const auto& range : ranges)
        for (bool accumulate : {false, true}) {
          std::vector<float> ref(static_cast<std::size_t>(nvec) * pr, std::numeric_limits<float>::quiet_NaN());
          if (accumulate)
            for (auto& v : ref) v = normal(gen);
          std::vector<float> got = ref;
          for (int v = 0; v < nvec; ++v)
            ref_fn(m.view(), xq.data() + v * pc, scales[v], ref.data() + v * pr, range[0], range[1], accumulate);
          if (kernel == 0)
            many(m.view(), xq.data(), pc, scales.data(), got.data(), pr, nvec, range[0], range[1], accumulate);
          else
            many_pair(m.view(), xu.data(), pc, scales.data(), got.data(), pr, nvec, range[0], range[1], accumulate);
          check(same_bits(got.data(), ref.data(), ref.size() * sizeof(float)),
                label + (kernel ? " many pair" : " many") + " nvec=" + std::to_string(nvec) + " rows [" +
                    std::to_string(range[0]) + ", " + std::to_string(range[1]) + ")" +
                    (accumulate ? " accumulate" : ""));
        }
    }
  }
}

// Every stored pair (columns 2i, 2i+1 of a block row) within |a| + |b| <= 128.
bool pairs_bounded(const BlockSparseMatrix& m) {
  for (std::size_t i = 0; i + 1 < m.n_values(); i += 2)
    if (std::abs(int{m.values_i8()[i]}) + std::abs(int{m.values_i8()[i + 1]}) > 128) return false;
  return true;
}

void test_spmv_i8(const sparsewave::KernelTable& t, const std::string& isa, std::mt19937& gen) {
  const int blocks[2][2] = {{8, 4}, {4, 4}};
  const int shapes[][2] = {{1, 1}, {3, 5}, {8, 4}, {17, 33}, {31, 16}, {64, 64}, {100, 37}, {257, 129}, {768, 256}};
  const double densities[] = {0.0, 0.03, 0.1, 0.5, 1.0};
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_int_distribution<int> coin(0, 1);
  const float big = 3.0f;  // any magnitude: all x equally large quantize to +-127
  for (const auto& b : blocks)
    for (const auto& s : shapes) {
      const int rows = s[0], cols = s[1];
      const std::string shape = isa + " i8 " + std::to_string(b[0]) + "x" + std::to_string(b[1]) + " " +
                                std::to_string(rows) + "x" + std::to_string(cols);
      for (double d : densities)
        for (bool holes : {false, true}) {
          if (holes && (d == 0.0 || rows < 2 * b[0])) continue;
          auto w = int8_weights(gen, rows, cols, b[0], b[1], d, holes, [&] { return normal(gen); });
          auto m = BlockSparseMatrix::from_dense(w.data(), rows, cols, b[0], b[1]);
          auto mp = m;
          m.store_int8();
          mp.store_int8(sparsewave::Int8Rule::pair_bounded);
          check(mp.pair_bounded() && pairs_bounded(mp), shape + " pair_bounded rule keeps every pair within 128");
          std::vector<float> x(cols);
          for (auto& v : x) v = normal(gen);
          const std::string label = shape + " d=" + std::to_string(d) + (holes ? " holes" : "");
          check_spmv_i8(t, m, x, gen, label);
          check_spmv_i8(t, mp, x, gen, label + " pair_bounded");
          if (!holes && (d == 0.03 || d == 1.0)) {
            check_spmv_many_i8(t, m, gen, label);
            check_spmv_many_i8(t, mp, gen, label + " pair_bounded");
          }
          std::fill(x.begin(), x.end(), 0.0f);
          check_spmv_i8(t, m, x, gen, label + " x=0");
          check_spmv_i8(t, mp, x, gen, label + " pair_bounded x=0");
        }
      // At the pair bound: pairs (127, 1), (64, 64), (1, 127) of either sign
      // (the row max 127 makes q = w), x at +-127 (xu 255 or 1), so vpmaddubsw
      // pairs reach +-255 * 128 = +-32640.
      const int bound_pairs[][2] = {{127, 1}, {64, 64}, {1, 127}, {-127, -1}, {-64, -64}, {-1, -127}, {127, -1}, {0, 0}};
      for (int signs = 0; signs < 3; ++signs) {
        std::uniform_int_distribution<int> pick(0, 7);
        std::vector<float> w(static_cast<std::size_t>(rows) * cols, 0.0f);
        for (int r = 0; r < rows; ++r) {
          const int mode = r % 4;  // all +, all -, mixed, and an all-zero row
          for (int c = 0; c + 1 < cols; c += 2) {
            const int* p = bound_pairs[mode == 0 ? 0 + (c / 2) % 3 : mode == 1 ? 3 + (c / 2) % 3 : pick(gen)];
            if (mode == 3) p = bound_pairs[7];
            w[static_cast<std::size_t>(r) * cols + c] = static_cast<float>(p[0]);
            w[static_cast<std::size_t>(r) * cols + c + 1] = static_cast<float>(p[1]);
          }
          float* row = &w[static_cast<std::size_t>(r) * cols];
          if (cols % 2) row[cols - 1] = mode == 3 ? 0.0f : -127.0f;  // paired with a padding 0
          if (mode != 3) {  // the row's max is 127: q = w exactly
            row[0] = mode == 1 ? -127.0f : 127.0f;
            if (cols > 1) row[1] = mode == 1 ? -1.0f : 1.0f;
          }
        }
        auto m = BlockSparseMatrix::from_dense(w.data(), rows, cols, b[0], b[1]);
        m.store_int8();
        check(m.pair_bounded(), shape + " weights at the pair bound are pair-bounded");
        std::vector<float> x(cols, signs == 1 ? -big : big);
        if (signs == 2)
          for (auto& v : x) v = coin(gen) ? -big : big;
        check_spmv_i8(t, m, x, gen, shape + " at the pair bound signs=" + std::to_string(signs));
        if (signs == 2) check_spmv_many_i8(t, m, gen, shape + " at the pair bound");
      }
      // Extremes: every weight and every x quantizes to +-127, so the int16
      // pair sums (127 * 127 * 2) are at their largest, with one sign or mixed.
      for (int signs = 0; signs < 3; ++signs) {
        auto w = int8_weights(gen, rows, cols, b[0], b[1], 1.0, false,
                              [&] { return signs == 2 && coin(gen) ? -1.0f : 1.0f; });
        auto m = BlockSparseMatrix::from_dense(w.data(), rows, cols, b[0], b[1]);
        m.store_int8();
        // All +-127: past the pair bound (when a row has two columns), so only spmv_i8 may run.
        check(!m.pair_bounded() || cols == 1, shape + " weights of +-127 are not pair-bounded");
        std::vector<float> x(cols, signs == 1 ? -big : big);
        if (signs == 2)
          for (auto& v : x) v = coin(gen) ? -big : big;
        check_spmv_i8(t, m, x, gen, shape + " extreme signs=" + std::to_string(signs));
      }
    }
}

// --- int8a16: int8 weights, 16-bit inputs ------------------------------------

// Column i's code in the quads layout (kernels/table.h SpmvI8A16QuadsFn).
int decode_quad(const int8_t* quads, int i) {
  const int8_t* q = quads + 2 * (i & ~3) + (i & 3);
  return 128 * q[0] + q[4];
}

// The 16-bit quantizer: this table's against the generic one (same codes,
// same scale), on the 8-bit tests' patterns at a few qmax; q is poisoned.
void test_quantize_i16(const std::string& isa, std::mt19937& gen) {
  const auto& t = sparsewave::active_kernels();
  std::normal_distribution<float> normal(0.0f, 2.0f);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (int qmax : {127, 4096, 32767})
    for (int n : {0, 1, 7, 8, 9, 15, 16, 17, 33, 100, 1000}) {
      std::vector<std::vector<float>> cases(4, std::vector<float>(n));
      for (auto& v : cases[0]) v = normal(gen);
      for (int i = 0; i < n; ++i) cases[1][i] = static_cast<float>(i % 9) - 4.5f;  // halves round to even
      if (n) cases[1][n - 1] = static_cast<float>(qmax);                          // multiplier 1
      if (n) cases[3][gen() % n] = nan;
      for (std::size_t c = 0; c < cases.size(); ++c) {
        const auto& x = cases[c];
        std::vector<int16_t> q_ref(n + 1, int16_t{0x5a5a}), q(n + 1, int16_t{0x5a5a});
        const float s_ref = sparsewave::generic_kernels().quantize_i16(x.data(), n, q_ref.data(), qmax);
        const float s = t.quantize_i16(x.data(), n, q.data(), qmax);
        const bool scale_ok = std::isnan(s_ref) ? std::isnan(s) : same_bits(&s, &s_ref, sizeof s);
        check(scale_ok && same_bits(q.data(), q_ref.data(), q.size() * sizeof(int16_t)),
              isa + " quantize_i16 qmax=" + std::to_string(qmax) + " n=" + std::to_string(n) + " case " +
                  std::to_string(c));
        if (t.quantize_i16_quads != nullptr && qmax <= sparsewave::kInputQmaxCap) {  // the layout's range
          const int padded = (n + 3) / 4 * 4 + 4;  // a zero quad past the padding too
          std::vector<int8_t> quads(2 * padded + 1, int8_t{0x5a});
          const float sq = t.quantize_i16_quads(x.data(), n, padded, quads.data(), qmax);
          const bool sq_ok = std::isnan(s_ref) ? std::isnan(sq) : same_bits(&sq, &s_ref, sizeof sq);
          bool codes_ok = quads.back() == 0x5a;  // nothing written past 2 * padded bytes
          for (int i = 0; i < padded; ++i)
            codes_ok &= decode_quad(quads.data(), i) == (i < n ? q_ref[i] : 0);
          check(sq_ok && codes_ok, isa + " quantize_i16_quads qmax=" + std::to_string(qmax) + " n=" +
                                       std::to_string(n) + " case " + std::to_string(c));
        }
      }
    }
}

// This table's spmv_i8a16 against an int64 sum of the stored integers (which
// also checks the generic kernel), over all block rows and an inner range,
// accumulating or not, y poisoned (NaN) or random before each call.
void check_spmv_i8a16(const sparsewave::KernelTable& t, const BlockSparseMatrix& m, const std::vector<float>& x,
                      std::mt19937& gen, const std::string& label) {
  const auto view = m.view();
  const int br = m.block_rows(), bc = m.block_cols(), nbr = m.n_block_rows();
  std::vector<float> xp(m.padded_cols(), 0.0f);
  std::copy(x.begin(), x.end(), xp.begin());
  std::vector<int16_t> xq(xp.size());
  const float xs = sparsewave::generic_kernels().quantize_i16(xp.data(), m.padded_cols(), xq.data(), m.input_qmax());
  std::vector<int64_t> exact(m.padded_rows(), 0);
  for (int rb = 0; rb < nbr; ++rb)
    for (int32_t k = m.row_ptr()[rb]; k < m.row_ptr()[rb + 1]; ++k)
      for (int r = 0; r < br; ++r)
        for (int c = 0; c < bc; ++c)
          exact[rb * br + r] += int64_t{m.values_i8()[static_cast<std::size_t>(k) * br * bc + r * bc + c]} *
                                xq[m.col_start()[k] + c];
  for (int64_t v : exact)
    if (v > std::numeric_limits<int32_t>::max() || v < -int64_t{std::numeric_limits<int32_t>::max()}) {
      check(false, label + ": input_qmax " + std::to_string(m.input_qmax()) + " lets a row sum pass int32");
      return;
    }
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int ranges[][2] = {{0, nbr}, {std::min(1, nbr), std::max(std::min(1, nbr), nbr - 1)}};
  for (const auto* table : {&sparsewave::generic_kernels(), &t}) {
    const auto fn = table->block(br, bc).spmv_i8a16;
    if (fn == nullptr) {
      check(false, label + ": no spmv_i8a16 kernel in " + table->name);
      return;
    }
    for (const auto& range : ranges)
      for (bool accumulate : {false, true}) {
        std::vector<float> ref(m.padded_rows(), std::numeric_limits<float>::quiet_NaN());
        if (accumulate)
          for (auto& v : ref) v = normal(gen);
        const std::vector<float> start = ref;
        for (int i = range[0] * br; i < range[1] * br; ++i) {
          // volatile: a multiply, then a separate add, as the kernels do (this file may
          // build with contraction on, which would fuse them into an fma on aarch64).
          const volatile float v = static_cast<float>(static_cast<int32_t>(exact[i])) * (m.row_scale()[i] * xs);
          ref[i] = accumulate ? ref[i] + v : v;
        }
        const std::string rows = " rows [" + std::to_string(range[0]) + ", " + std::to_string(range[1]) + ")" +
                                 (accumulate ? " accumulate" : "");
        std::vector<float> got = start;
        fn(view, xq.data(), xs, got.data(), range[0], range[1], accumulate);
        check(same_bits(got.data(), ref.data(), ref.size() * sizeof(float)), label + " " + table->name + " a16" + rows);
        // The quads kernel, from its own quantizer's layout of the same codes.
        const auto quads_fn = table->block(br, bc).spmv_i8a16_quads;
        if (quads_fn == nullptr || table->quantize_i16_quads == nullptr) continue;
        std::vector<int8_t> quads(2 * xp.size(), int8_t{0x5a});
        const float qs = table->quantize_i16_quads(xp.data(), m.padded_cols(), m.padded_cols(), quads.data(),
                                                   m.input_qmax());
        got = start;
        quads_fn(view, quads.data(), qs, got.data(), range[0], range[1], accumulate);
        check(same_bits(&qs, &xs, sizeof qs) && same_bits(got.data(), ref.data(), ref.size() * sizeof(float)),
              label + " " + table->name + " a16 quads" + rows);
      }
  }
}

// This table's spmv_many_i8a16, where it has one, against the generic
// spmv_i8a16 once per vector: vectors of different magnitudes (the last all
// zero), over all block rows and an inner range, y poisoned or random.
void check_spmv_many_i8a16(const sparsewave::KernelTable& t, const BlockSparseMatrix& m, std::mt19937& gen,
                           const std::string& label) {
  const int br = m.block_rows(), bc = m.block_cols(), nbr = m.n_block_rows(), pc = m.padded_cols();
  const int pr = m.padded_rows();
  const auto many = t.block(br, bc).spmv_many_i8a16;
  if (many == nullptr) return;  // this ISA runs spmv_i8a16 per vector
  const auto ref_fn = sparsewave::generic_kernels().block(br, bc).spmv_i8a16;
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (int nvec : {2, 3, 4, 5, 8, 9, 17}) {
    std::vector<int16_t> xq(static_cast<std::size_t>(nvec) * pc, 0);
    std::vector<float> scales(nvec);
    for (int v = 0; v < nvec; ++v) {
      std::vector<float> x(pc, 0.0f);
      const float mag = v == nvec - 1 ? 0.0f : std::pow(10.0f, static_cast<float>(v % 5) - 2.0f);
      for (int c = 0; c < m.cols(); ++c) x[c] = normal(gen) * mag;
      scales[v] = sparsewave::generic_kernels().quantize_i16(x.data(), pc, xq.data() + v * pc, m.input_qmax());
    }
    const int ranges[][2] = {{0, nbr}, {std::min(1, nbr), std::max(std::min(1, nbr), nbr - 1)}};
    for (const auto& range : ranges)
      for (bool accumulate : {false, true}) {
        std::vector<float> ref(static_cast<std::size_t>(nvec) * pr, std::numeric_limits<float>::quiet_NaN());
        if (accumulate)
          for (auto& v : ref) v = normal(gen);
        std::vector<float> got = ref;
        for (int v = 0; v < nvec; ++v)
          ref_fn(m.view(), xq.data() + v * pc, scales[v], ref.data() + v * pr, range[0], range[1], accumulate);
        many(m.view(), xq.data(), pc, scales.data(), got.data(), pr, nvec, range[0], range[1], accumulate);
        check(same_bits(got.data(), ref.data(), ref.size() * sizeof(float)),
              label + " a16 many nvec=" + std::to_string(nvec) + " rows [" + std::to_string(range[0]) + ", " +
                  std::to_string(range[1]) + ")" + (accumulate ? " accumulate" : ""));
      }
  }
}

void test_spmv_i8a16(const sparsewave::KernelTable& t, const std::string& isa, std::mt19937& gen) {
  const int blocks[2][2] = {{8, 4}, {4, 4}};
  const int shapes[][2] = {{1, 1}, {3, 5}, {8, 4}, {17, 33}, {31, 16}, {100, 37}, {257, 129}};
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_int_distribution<int> coin(0, 1);
  for (const auto& b : blocks) {
    for (const auto& s : shapes)
      for (double d : {0.0, 0.03, 0.5, 1.0})
        for (bool holes : {false, true}) {
          const int rows = s[0], cols = s[1];
          if (holes && (d == 0.0 || rows < 2 * b[0])) continue;
          auto w = int8_weights(gen, rows, cols, b[0], b[1], d, holes, [&] { return normal(gen); });
          auto m = BlockSparseMatrix::from_dense(w.data(), rows, cols, b[0], b[1]);
          m.store_int8();
          m.use_wide_inputs();
          const std::string label = isa + " i8a16 " + std::to_string(b[0]) + "x" + std::to_string(b[1]) + " " +
                                    std::to_string(rows) + "x" + std::to_string(cols) + " d=" + std::to_string(d) +
                                    (holes ? " holes" : "");
          check(m.input_qmax() == sparsewave::kInputQmaxCap, label + ": a small matrix takes the cap");
          std::vector<float> x(cols);
          for (auto& v : x) v = normal(gen);
          check_spmv_i8a16(t, m, x, gen, label);
          if (!holes && (d == 0.03 || d == 1.0)) check_spmv_many_i8a16(t, m, gen, label);
          std::fill(x.begin(), x.end(), 0.0f);
          check_spmv_i8a16(t, m, x, gen, label + " x=0");
        }
    // The int32 bound: a dense row of 20,000 weights at +-127 would pass 2^31
    // with x at the cap, so input_qmax shrinks to keep every sum exact; x at
    // its extremes, one sign or mixed, meets it.
    // At 1,000 columns the cap itself is the bound: sums reach 127 * 16383 * 1000, near 2^31.
    for (int signs = 0; signs < 6; ++signs) {
      const int rows = 2 * b[0] + 1, cols = signs < 3 ? 20000 : 1000;
      auto w = int8_weights(gen, rows, cols, b[0], b[1], 1.0, false,
                            [&] { return signs % 3 == 2 && coin(gen) ? -1.0f : 1.0f; });
      auto m = BlockSparseMatrix::from_dense(w.data(), rows, cols, b[0], b[1]);
      m.store_int8();
      m.use_wide_inputs();
      const int expect = static_cast<int>(std::numeric_limits<int32_t>::max() / (int64_t{127} * b[1] * ((cols + 3) / 4)));
      check(m.input_qmax() == std::min(sparsewave::kInputQmaxCap, expect), isa + " i8a16 input_qmax at the int32 bound");
      std::vector<float> x(cols, signs % 3 == 1 ? -1.0f : 1.0f);
      if (signs % 3 == 2)
        for (auto& v : x) v = coin(gen) ? -1.0f : 1.0f;
      check_spmv_i8a16(t, m, x, gen, isa + " i8a16 at the int32 bound signs=" + std::to_string(signs));
      if (signs == 5) check_spmv_many_i8a16(t, m, gen, isa + " i8a16 at the int32 bound");
    }
  }
}

// An int8 product quantizes x over its true columns only: whatever the
// caller's padding holds (here huge values) must not change the result.
void test_spmv_i8_ignores_padding(const sparsewave::KernelTable& t, const std::string& isa, std::mt19937& gen) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (const auto& b : {std::pair<int, int>{8, 4}, std::pair<int, int>{4, 4}}) {
    const int rows = 37, cols = 45;  // padded to 48 columns
    auto w = int8_weights(gen, rows, cols, b.first, b.second, 0.5, false, [&] { return normal(gen); });
    auto m = BlockSparseMatrix::from_dense(w.data(), rows, cols, b.first, b.second);
    m.store_int8();
    std::vector<float> x(m.padded_cols(), 0.0f), y0(m.padded_rows()), y1(m.padded_rows());
    for (int j = 0; j < cols; ++j) x[j] = normal(gen);
    m.spmv_padded(x.data(), y0.data(), false, 0, m.n_block_rows(), t);
    for (int j = cols; j < m.padded_cols(); ++j) x[j] = 1e6f;
    m.spmv_padded(x.data(), y1.data(), false, 0, m.n_block_rows(), t);
    check(same_bits(y0.data(), y1.data(), y0.size() * sizeof(float)),
          isa + " i8 " + std::to_string(b.first) + "x4: padding of x does not change the product");
  }
}

// A table that only adds int8 kernels (neon_dotprod) shares every float slot
// with the one below it, so the float tests need not run twice.
bool same_float_slots(const sparsewave::KernelTable& a, const sparsewave::KernelTable& b) {
  auto same = [](const sparsewave::BlockKernels& x, const sparsewave::BlockKernels& y) {
    return x.spmv == y.spmv && x.spmv_many == y.spmv_many && x.spmm == y.spmm && x.spmv_f16 == y.spmv_f16 &&
           x.spmv_many_f16 == y.spmv_many_f16;
  };
  return same(a.shape_4x4, b.shape_4x4) && same(a.shape_8x4, b.shape_8x4) && same(a.shape_16x1, b.shape_16x1) &&
         same(a.shape_1x4, b.shape_1x4) &&
         same(a.shape_1x1, b.shape_1x1) && a.elementwise.gru_update == b.elementwise.gru_update &&
         a.elementwise.sample_softmax == b.elementwise.sample_softmax && a.elementwise.relu == b.elementwise.relu &&
         a.elementwise.weighted_sum == b.elementwise.weighted_sum;
}

// The table below an ISA that adds int8 kernels only, or "" for one with its own float slots.
std::string int8_only_base(const std::string& isa) {
  if (isa == "neon_dotprod") return "neon";
  if (isa == "avx2_vnni") return "avx2";
  if (isa == "avx512_vnni") return "avx512";
  return "";
}

double sigmoid_ref(double x) { return 1.0 / (1.0 + std::exp(-x)); }

void test_gru_update(const sparsewave::ElementwiseKernels& e, const std::string& label, int n, bool bias,
                     std::mt19937& gen) {
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::vector<float> h(n), gi(3 * n), gh(3 * n), bh(3 * n);
  for (auto* v : {&h, &gi, &gh, &bh})
    for (auto& x : *v) x = normal(gen);
  if (n > 2) gi[0] = 200.0f, gi[1] = -200.0f;  // saturated gates
  std::vector<float> got = h;
  e.gru_update(got.data(), gi.data(), gh.data(), bias ? bh.data() : nullptr, n);
  for (int i = 0; i < n; ++i) {
    auto g = [&](int gate) { return static_cast<double>(gh[gate * n + i]) + (bias ? bh[gate * n + i] : 0.0); };
    const double r = sigmoid_ref(gi[i] + g(0)), z = sigmoid_ref(gi[n + i] + g(1));
    const double c = std::tanh(gi[2 * n + i] + r * g(2));
    const double ref = c + z * (h[i] - c);
    if (!(std::fabs(got[i] - ref) <= 2e-6 * (1.0 + std::fabs(gi[2 * n + i]) + std::fabs(g(2))))) {
      check(false, label + " gru_update n=" + std::to_string(n) + " entry " + std::to_string(i) + ": got " +
                       std::to_string(got[i]) + ", expected " + std::to_string(ref));
      return;
    }
  }
  check(true, label + " gru_update");
}

// The drawn class k must be one whose CDF interval [cdf(k-1), cdf(k)] holds u
// (up to float rounding of the running sums), the CDF taken over the classes
// within `cut` of the largest logit (the tail cut; kNegligibleLogit: all).
void test_sample_softmax(const sparsewave::ElementwiseKernels& e, const std::string& label, int n, std::mt19937& gen) {
  std::normal_distribution<float> normal(0.0f, 4.0f);
  std::uniform_real_distribution<float> uni(0.0f, 1.0f);
  std::vector<float> logits(n), scratch(n, std::numeric_limits<float>::quiet_NaN());
  const float cuts[] = {sparsewave::kNegligibleLogit, 4.6f, 0.7f};
  for (int trial = 0; trial < 60; ++trial) {
    const float cut = cuts[trial % 3];
    for (auto& x : logits) x = normal(gen);
    if (trial % 4 == 1) logits[gen() % n] += 40.0f;  // one dominant class
    if (trial % 4 == 2)
      for (int i = 0; i < n; i += 3) logits[i] = -200.0f;  // exps that underflow the clamp
    float u = uni(gen);
    if (trial == 0) u = 0.0f;
    if (trial == 1) u = std::nextafter(1.0f, 0.0f);
    std::fill(scratch.begin(), scratch.end(), std::numeric_limits<float>::quiet_NaN());
    const int k = e.sample_softmax(logits.data(), n, u, cut, scratch.data());
    float mx_f = -3e38f;
    for (float l : logits) mx_f = std::max(mx_f, l);
    const float keep_from = mx_f - cut;  // the kernel's own float rule for which classes count
    double mx = mx_f, total = 0.0;
    std::vector<double> cdf(n);
    for (int i = 0; i < n; ++i) cdf[i] = (total += logits[i] >= keep_from ? std::exp(logits[i] - mx) : 0.0);
    const double lo = k == 0 ? 0.0 : cdf[k - 1] / total, hi = cdf[k] / total, slack = 1e-5;
    const bool ok = k >= 0 && k < n && lo - slack <= u && u <= hi + slack && (hi - lo > 0 || n == 1);
    if (!ok) {
      check(false, label + " sample_softmax n=" + std::to_string(n) + " u=" + std::to_string(u) + ": class " +
                       std::to_string(k) + " covers [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
      return;
    }
  }
  // Classes more than 40 below the largest logit have probability 0: u = 0
  // draws the first class within 40 of it.
  for (auto& x : logits) x = -100.0f;
  const int near = n / 2;
  logits[near] = -60.5f;
  logits[n - 1] = -59.0f;
  const int k = e.sample_softmax(logits.data(), n, 0.0f, sparsewave::kNegligibleLogit, scratch.data());
  check(k == (n == 1 ? 0 : near), label + " sample_softmax n=" + std::to_string(n) + ": negligible classes drawn (" +
                                      std::to_string(k) + ")");
  // A tail cut of 1.0: the class 1.5 below the best is cut, so u = 0 draws the best.
  const int kc = e.sample_softmax(logits.data(), n, 0.0f, 1.0f, scratch.data());
  check(kc == n - 1, label + " sample_softmax n=" + std::to_string(n) + ": a class past the tail cut drawn (" +
                         std::to_string(kc) + ")");
  check(true, label + " sample_softmax");
}

void test_relu_and_weighted_sum(const sparsewave::ElementwiseKernels& e, const std::string& label, int n,
                                std::mt19937& gen) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> y(n);
  for (auto& x : y) x = normal(gen);
  std::vector<float> r = y;
  e.relu(r.data(), n);
  bool ok = true;
  for (int i = 0; i < n; ++i) ok = ok && r[i] == std::max(y[i], 0.0f);
  check(ok, label + " relu n=" + std::to_string(n));
  for (int terms : {0, 1, 2, 6, 8, 9, 19}) {
    for (bool accumulate : {false, true}) {
      std::vector<std::vector<float>> xs(terms, std::vector<float>(n));
      std::vector<const float*> ptrs;
      std::vector<float> w(terms);
      for (int j = 0; j < terms; ++j) {
        for (auto& x : xs[j]) x = normal(gen);
        ptrs.push_back(xs[j].data());
        w[j] = normal(gen);
      }
      std::vector<float> got = y;
      e.weighted_sum(got.data(), n, ptrs.data(), w.data(), terms, accumulate);
      for (int i = 0; i < n && ok; ++i) {
        double ref = accumulate ? y[i] : 0.0, mag = std::fabs(ref);
        for (int j = 0; j < terms; ++j) {
          ref += static_cast<double>(w[j]) * xs[j][i];
          mag += std::fabs(static_cast<double>(w[j]) * xs[j][i]);
        }
        ok = std::fabs(got[i] - ref) <= 4 * std::numeric_limits<float>::epsilon() * (terms + 1) * mag + 1e-30;
      }
      check(ok, label + " weighted_sum n=" + std::to_string(n) + " terms=" + std::to_string(terms) +
                    (accumulate ? " accumulate" : ""));
    }
  }
}

void test_elementwise(const std::string& isa, std::mt19937& gen) {
  sparsewave::set_isa(isa);
  const auto& e = sparsewave::active_kernels().elementwise;
  for (int n : {1, 3, 4, 7, 8, 9, 15, 16, 17, 63, 64, 65, 100, 256, 1000, 1024}) {
    test_gru_update(e, isa, n, false, gen);
    test_gru_update(e, isa, n, true, gen);
    test_sample_softmax(e, isa, n, gen);
    test_relu_and_weighted_sum(e, isa, n, gen);
  }
}

void test_dispatch_errors() {
  bool threw = false;
  try {
    sparsewave::set_isa("no-such-isa");
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  check(threw, "set_isa rejects an unknown name");
}

}  // namespace

int main() {
  std::mt19937 gen(12345);
  const auto isas = sparsewave::available_isas();
  std::string names;
  for (const auto& isa : isas) names += " " + isa;
  std::printf("available ISAs:%s\n", names.c_str());
  const auto f = sparsewave::detect_cpu_features();
  std::printf("features: avx2=%d fma=%d avx512f=%d avx_vnni=%d avx512_vnni=%d neon=%d dotprod=%d fp16=%d\n", f.avx2,
              f.fma, f.avx512f, f.avx_vnni, f.avx512_vnni, f.neon,
              f.dotprod, f.fp16);
#if defined(__aarch64__)
  check(std::find(isas.begin(), isas.end(), "neon") != isas.end(), "aarch64 build has NEON");
  check(isas.back() == (f.dotprod ? "neon_dotprod" : "neon"), "aarch64 build selects NEON (with sdot where HWCAP says)");
#endif
  std::vector<std::string> float_isas;
  for (const auto& isa : isas) {
    sparsewave::set_isa(isa);
    const sparsewave::KernelTable& t = sparsewave::active_kernels();
    const std::string base = int8_only_base(isa);
    if (!base.empty()) {
      sparsewave::set_isa(base);
      check(same_float_slots(t, sparsewave::active_kernels()), isa + " differs from " + base + " only in int8 slots");
    } else {
      float_isas.push_back(isa);
    }
  }
  for (const auto& isa : isas) {
    sparsewave::set_isa(isa);
    test_quantize(isa, gen);
    test_spmv_i8(sparsewave::active_kernels(), isa, gen);
    test_spmv_i8_ignores_padding(sparsewave::active_kernels(), isa, gen);
    test_quantize_i16(isa, gen);
    test_spmv_i8a16(sparsewave::active_kernels(), isa, gen);
  }
#if defined(__x86_64__)
  // The VNNI kernels' logic on any AVX2 machine, over an exact stand-in for
  // vpdpbusd; where the CPU has VNNI, the real tables ran in the loop above.
  if (f.avx2 && f.fma && f.f16c) {
    const auto& emulated = sparsewave::avx2_vnni_emulated_kernels();
    sparsewave::set_isa("avx2");
    check(same_float_slots(emulated, sparsewave::active_kernels()), "avx2_vnni_emulated differs from avx2 only in int8 slots");
    {  // weights of +-127 are past the pair bound: only a VNNI table hands their products xu
      std::vector<float> w(16 * 8, 1.0f);
      auto m = BlockSparseMatrix::from_dense(w.data(), 16, 8, 8, 4);
      m.store_int8();
      check(!m.pair_bounded() && m.takes_offset_bytes(emulated) && !m.takes_offset_bytes(sparsewave::active_kernels()),
            "VNNI tables take the offset-byte slots for any int8 weights, AVX2 only for pair-bounded ones");
    }
    test_spmv_i8(emulated, emulated.name, gen);
    test_spmv_i8_ignores_padding(emulated, emulated.name, gen);
    test_spmv_i8a16(emulated, emulated.name, gen);
  }
#endif
  for (const auto& isa : float_isas) test_isa(isa, gen);
  for (const auto& isa : float_isas) test_elementwise(isa, gen);
  test_dispatch_errors();
  std::printf("%d checks, %d failures\n", g_checks, g_failures);
  return g_failures == 0 ? 0 : 1;
}
