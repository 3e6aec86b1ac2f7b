// Element-wise kernels written once as templates over a vector-operations
// type O (kernels/scalar_ops.h, cpp/avx/avx2_ops.h, cpp/neon/neon_ops.h):
// each ISA file instantiates them with its own O and flags, and every loop
// finishes its last n % O::lanes entries with ScalarOps. Explicit vector
// operations, not auto-vectorisation: the compiler kept exp's clamps as
// branches and left these loops scalar. Everything here is in an anonymous
// namespace, so each ISA's copy stays private to its file.
#include <cstdint>
#include <initializer_list>

#include "kernels/elementwise.h"
#include "kernels/scalar_ops.h"

namespace sparsewave {
namespace {

// exp(x) by range reduction x = k ln2 + r, |r| <= ln2/2, and a degree-6
// polynomial for exp(r), ~1e-7 relative (numerics/activations.h's fast_exp,
// lane by lane). Inputs are clamped to [-87.3, 88.3] so 2^k stays normal.
template <class O>
inline typename O::V exp_v(typename O::V x) {
  using V = typename O::V;
  x = O::min(O::max(x, O::set1(-87.3f)), O::set1(88.3f));
  // Round to nearest with the 1.5*2^23 trick.
  const V k = O::sub(O::fma(x, O::set1(1.44269504088896341f), O::set1(12582912.0f)), O::set1(12582912.0f));
  const V r = O::fma(k, O::set1(2.12194440e-4f), O::fma(k, O::set1(-0.693359375f), x));  // ln2 split for exactness
  V p = O::set1(1.9875691500e-4f);
  p = O::fma(p, r, O::set1(1.3981999507e-3f));
  p = O::fma(p, r, O::set1(8.3334519073e-3f));
  p = O::fma(p, r, O::set1(4.1665795894e-2f));
  p = O::fma(p, r, O::set1(1.6666665459e-1f));
  p = O::fma(p, r, O::set1(5.0000001201e-1f));
  p = O::add(O::fma(O::mul(p, r), r, r), O::set1(1.0f));  // p r^2 + r + 1
  return O::mul(p, O::pow2(k));
}

template <class O>
inline typename O::V sigmoid_v(typename O::V x) {
  const auto one = O::set1(1.0f);
  return O::div(one, O::add(one, exp_v<O>(O::sub(O::set1(0.0f), x))));
}

// tanh(x) = sign(x) (1 - 2 / (exp(2|x|) + 1)): exact limits at +-inf.
template <class O>
inline typename O::V tanh_v(typename O::V x) {
  const auto one = O::set1(1.0f);
  const auto e = exp_v<O>(O::add(O::abs(x), O::abs(x)));
  return O::copysign(O::sub(one, O::div(O::set1(2.0f), O::add(e, one))), x);
}

// One vector of GRU units starting at entry i.
template <class O, bool kBias>
inline void gru_lanes(float* h, const float* gi, const float* gh, const float* bh, int n, int i) {
  using V = typename O::V;
  V ghr = O::load(gh + i), ghz = O::load(gh + n + i), ghn = O::load(gh + 2 * n + i);
  if (kBias) {
    ghr = O::add(ghr, O::load(bh + i));
    ghz = O::add(ghz, O::load(bh + n + i));
    ghn = O::add(ghn, O::load(bh + 2 * n + i));
  }
  const V r = sigmoid_v<O>(O::add(O::load(gi + i), ghr));
  const V z = sigmoid_v<O>(O::add(O::load(gi + n + i), ghz));
  const V c = tanh_v<O>(O::fma(r, ghn, O::load(gi + 2 * n + i)));
  O::store(h + i, O::fma(z, O::sub(O::load(h + i), c), c));  // c + z (h - c)
}

template <class O, bool kBias>
void gru_run(float* h, const float* gi, const float* gh, const float* bh, int n) {
  int i = 0;
  for (; i + O::lanes <= n; i += O::lanes) gru_lanes<O, kBias>(h, gi, gh, bh, n, i);
  for (; i < n; ++i) gru_lanes<ScalarOps, kBias>(h, gi, gh, bh, n, i);
}

template <class O>
void gru_update_impl(float* h, const float* gi, const float* gh, const float* bh, int n) {
  if (bh)
    gru_run<O, true>(h, gi, gh, bh, n);
  else
    gru_run<O, false>(h, gi, gh, bh, n);
}

// Sum of scratch[k, k + m) for m a multiple of O::lanes: vertical adds, one
// horizontal sum.
template <class O>
inline float vector_sum(const float* p, int m) {
  auto acc = O::load(p);
  for (int j = O::lanes; j < m; j += O::lanes) acc = O::add(acc, O::load(p + j));
  return O::hsum(acc);
}

// Classes whose logit is more than this below the largest count as
// probability 0: each exp would be under e^-40 (4e-18) of the largest, so
// even 2^20 of them stay far below float32 resolution of the total. A
// trained model's logits spread over hundreds, so most vectors are skipped
// whole, without an exp.
constexpr float kNegligibleLogit = 40.0f;

// Inverse-CDF draw from softmax(logits) with one uniform: the first k whose
// running sum of exp(l - max) reaches u * total (n - 1 when rounding leaves
// the walk short), skipping classes of probability 0 (kNegligibleLogit).
// One vector pass takes the exps (into scratch, n floats) and their total;
// the walk then skips chunks of 64 classes, then vectors, then takes single
// classes.
template <class O>
int sample_softmax_impl(const float* logits, int n, float u, float* scratch) {
  using V = typename O::V;
  constexpr int L = O::lanes, kChunk = 64;
  static_assert(kChunk % L == 0, "a chunk is whole vectors");
  V vm = O::set1(-3.0e38f);
  int i = 0;
  for (; i + L <= n; i += L) vm = O::max(vm, O::load(logits + i));
  float mx = O::hmax(vm);
  for (; i < n; ++i) mx = vmax(mx, logits[i]);

  const float cutoff = mx - kNegligibleLogit;
  const V vmx = O::set1(mx), vcutoff = O::set1(cutoff), zero = O::set1(0.0f);
  V acc = zero;
  for (i = 0; i + L <= n; i += L) {
    const V l = O::load(logits + i);
    if (!O::any_ge(l, vcutoff)) {
      O::store(scratch + i, zero);
      continue;
    }
    const V e = O::keep_ge(exp_v<O>(O::sub(l, vmx)), l, vcutoff);
    O::store(scratch + i, e);
    acc = O::add(acc, e);
  }
  float total = O::hsum(acc);
  for (; i < n; ++i) {
    scratch[i] = logits[i] >= cutoff ? exp_v<ScalarOps>(logits[i] - mx) : 0.0f;
    total += scratch[i];
  }
  const float target = u * total;
  float running = 0.0f;
  int k = 0;
  for (int m : {kChunk, L}) {  // coarse to fine; each level stops before the span that crosses target
    for (; k + m <= n; k += m) {
      const float s = vector_sum<O>(scratch + k, m);
      if (running + s >= target) break;
      running += s;
    }
  }
  for (; k < n; ++k) {
    running += scratch[k];
    if (running >= target && scratch[k] > 0.0f) return k;
  }
  return n - 1;
}

template <class O>
void relu_impl(float* y, int n) {
  int i = 0;
  for (; i + O::lanes <= n; i += O::lanes) O::store(y + i, O::max(O::load(y + i), O::set1(0.0f)));
  for (; i < n; ++i) y[i] = vmax(y[i], 0.0f);
}

// weighted_sum with K terms known at compile time: the weights and source
// pointers stay in registers, one load and one FMA per term and vector.
template <class O, int K>
void weighted_sum_fixed(float* y, int n, const float* const* x, const float* w, bool accumulate) {
  using V = typename O::V;
  const float* p[K];
  V wv[K];
  for (int j = 0; j < K; ++j) {
    p[j] = x[j];
    wv[j] = O::set1(w[j]);
  }
  int i = 0;
  for (; i + O::lanes <= n; i += O::lanes) {
    V acc = accumulate ? O::load(y + i) : O::set1(0.0f);
    for (int j = 0; j < K; ++j) acc = O::fma(wv[j], O::load(p[j] + i), acc);
    O::store(y + i, acc);
  }
  for (; i < n; ++i) {
    float acc = accumulate ? y[i] : 0.0f;
    for (int j = 0; j < K; ++j) acc = ScalarOps::fma(w[j], p[j][i], acc);
    y[i] = acc;
  }
}

template <class O>
void weighted_sum_impl(float* y, int n, const float* const* x, const float* w, int k, bool accumulate) {
  constexpr int kMax = 8;
  for (; k > kMax; k -= kMax, x += kMax, w += kMax, accumulate = true)
    weighted_sum_fixed<O, kMax>(y, n, x, w, accumulate);
  switch (k) {
    case 1: weighted_sum_fixed<O, 1>(y, n, x, w, accumulate); break;
    case 2: weighted_sum_fixed<O, 2>(y, n, x, w, accumulate); break;
    case 3: weighted_sum_fixed<O, 3>(y, n, x, w, accumulate); break;
    case 4: weighted_sum_fixed<O, 4>(y, n, x, w, accumulate); break;
    case 5: weighted_sum_fixed<O, 5>(y, n, x, w, accumulate); break;
    case 6: weighted_sum_fixed<O, 6>(y, n, x, w, accumulate); break;
    case 7: weighted_sum_fixed<O, 7>(y, n, x, w, accumulate); break;
    case 8: weighted_sum_fixed<O, 8>(y, n, x, w, accumulate); break;
    default:
      if (!accumulate)
        for (int i = 0; i < n; ++i) y[i] = 0.0f;
  }
}

// This file's copies, over vector operations O, as table slots.
template <class O>
ElementwiseKernels elementwise_from_impl() {
  ElementwiseKernels e;
  e.gru_update = gru_update_impl<O>;
  e.sample_softmax = sample_softmax_impl<O>;
  e.relu = relu_impl<O>;
  e.weighted_sum = weighted_sum_impl<O>;
  return e;
}

}  // namespace
}  // namespace sparsewave
