// C++ kernel test (ctest): every ISA path this CPU can run, on random
// block-sparse matrices of many shapes, against a double-precision dense
// reference, and its element-wise kernels (GRU update, softmax sampling,
// relu, weighted sums) against double-precision loops, at lengths around
// the vector widths. Built natively and cross-built for aarch64 (run under
// qemu).
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
// (up to float rounding of the running sums).
void test_sample_softmax(const sparsewave::ElementwiseKernels& e, const std::string& label, int n, std::mt19937& gen) {
  std::normal_distribution<float> normal(0.0f, 4.0f);
  std::uniform_real_distribution<float> uni(0.0f, 1.0f);
  std::vector<float> logits(n), scratch(n, std::numeric_limits<float>::quiet_NaN());
  for (int trial = 0; trial < 40; ++trial) {
    for (auto& x : logits) x = normal(gen);
    if (trial % 4 == 1) logits[gen() % n] += 40.0f;  // one dominant class
    if (trial % 4 == 2)
      for (int i = 0; i < n; i += 3) logits[i] = -200.0f;  // exps that underflow the clamp
    float u = uni(gen);
    if (trial == 0) u = 0.0f;
    if (trial == 1) u = std::nextafter(1.0f, 0.0f);
    const int k = e.sample_softmax(logits.data(), n, u, scratch.data());
    double mx = -1e300, total = 0.0;
    for (float l : logits) mx = std::max(mx, static_cast<double>(l));
    std::vector<double> cdf(n);
    for (int i = 0; i < n; ++i) cdf[i] = (total += std::exp(logits[i] - mx));
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
  const int k = e.sample_softmax(logits.data(), n, 0.0f, scratch.data());
  check(k == (n == 1 ? 0 : near), label + " sample_softmax n=" + std::to_string(n) + ": negligible classes drawn (" +
                                      std::to_string(k) + ")");
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
  std::printf("features: avx2=%d fma=%d avx512f=%d neon=%d dotprod=%d fp16=%d\n", f.avx2, f.fma, f.avx512f, f.neon,
              f.dotprod, f.fp16);
#if defined(__aarch64__)
  check(isas.back() == "neon", "aarch64 build selects NEON");
#endif
  for (const auto& isa : isas) test_isa(isa, gen);
  for (const auto& isa : isas) test_elementwise(isa, gen);
  test_dispatch_errors();
  std::printf("%d checks, %d failures\n", g_checks, g_failures);
  return g_failures == 0 ? 0 : 1;
}
