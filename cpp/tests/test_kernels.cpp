// C++ kernel test (ctest): every ISA path this CPU can run, on random
// block-sparse matrices of many shapes, against a double-precision dense
// reference. Built natively and cross-built for aarch64 (run under qemu).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/dispatch.h"
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
  const int blocks[3][2] = {{4, 4}, {16, 1}, {1, 1}};
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
        for (int nvec : {2, 3, 4, 5, 9}) {  // multi-vector spmv: X is nvec x cols, row-major
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
  std::printf("features: avx2=%d fma=%d avx512f=%d neon=%d dotprod=%d fp16=%d\n", f.avx2, f.fma, f.avx512f, f.neon,
              f.dotprod, f.fp16);
#if defined(__aarch64__)
  check(isas.back() == "neon", "aarch64 build selects NEON");
#endif
  for (const auto& isa : isas) test_isa(isa, gen);
  test_dispatch_errors();
  std::printf("%d checks, %d failures\n", g_checks, g_failures);
  return g_failures == 0 ? 0 : 1;
}
