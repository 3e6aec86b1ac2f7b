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

// The transcendental loops below are bound by latency, not throughput: one
// exp is a chain of ~17 dependent operations, and the scheduler holds only a
// few iterations. So the functions here take N independent vectors and
// interleave them step by step (N = 4 ran the softmax exps 25% faster and
// the GRU update 20% faster on AVX2 than one vector at a time).

// exp(x[j]), j < N, by range reduction x = k ln2 + r, |r| <= ln2/2, and a
// degree-6 polynomial for exp(r), ~1e-7 relative (numerics/activations.h's
// fast_exp, lane by lane). Inputs are clamped to [-87.3, 88.3] so 2^k stays
// normal.
template <class O, int N>
inline void exp_n(typename O::V* x) {
  using V = typename O::V;
  V k[N], r[N], p[N];
  for (int j = 0; j < N; ++j) x[j] = O::min(O::max(x[j], O::set1(-87.3f)), O::set1(88.3f));
  // Round to nearest with the 1.5*2^23 trick.
  for (int j = 0; j < N; ++j)
    k[j] = O::sub(O::fma(x[j], O::set1(1.44269504088896341f), O::set1(12582912.0f)), O::set1(12582912.0f));
  for (int j = 0; j < N; ++j)  // ln2 split in two for exactness
    r[j] = O::fma(k[j], O::set1(2.12194440e-4f), O::fma(k[j], O::set1(-0.693359375f), x[j]));
  for (int j = 0; j < N; ++j) p[j] = O::fma(O::set1(1.9875691500e-4f), r[j], O::set1(1.3981999507e-3f));
  for (int j = 0; j < N; ++j) p[j] = O::fma(p[j], r[j], O::set1(8.3334519073e-3f));
  for (int j = 0; j < N; ++j) p[j] = O::fma(p[j], r[j], O::set1(4.1665795894e-2f));
  for (int j = 0; j < N; ++j) p[j] = O::fma(p[j], r[j], O::set1(1.6666665459e-1f));
  for (int j = 0; j < N; ++j) p[j] = O::fma(p[j], r[j], O::set1(5.0000001201e-1f));
  for (int j = 0; j < N; ++j) p[j] = O::add(O::fma(O::mul(p[j], r[j]), r[j], r[j]), O::set1(1.0f));  // p r^2 + r + 1
  for (int j = 0; j < N; ++j) x[j] = O::mul(p[j], O::pow2(k[j]));
}

template <class O>
inline typename O::V exp_v(typename O::V x) {
  exp_n<O, 1>(&x);
  return x;
}

// 1 / (1 + exp(-x)).
template <class O, int N>
inline void sigmoid_n(typename O::V* x) {
  const auto one = O::set1(1.0f);
  for (int j = 0; j < N; ++j) x[j] = O::sub(O::set1(0.0f), x[j]);
  exp_n<O, N>(x);
  for (int j = 0; j < N; ++j) x[j] = O::div(one, O::add(one, x[j]));
}

// tanh(x) = sign(x) (1 - 2 / (exp(2|x|) + 1)): exact limits at +-inf.
template <class O, int N>
inline void tanh_n(typename O::V* x) {
  using V = typename O::V;
  const V one = O::set1(1.0f);
  V e[N];
  for (int j = 0; j < N; ++j) e[j] = O::add(O::abs(x[j]), O::abs(x[j]));
  exp_n<O, N>(e);
  for (int j = 0; j < N; ++j) x[j] = O::copysign(O::sub(one, O::div(O::set1(2.0f), O::add(e[j], one))), x[j]);
}

// gh[i] (+ bh[i]): the hidden side of a gate.
template <class O, bool kBias>
inline typename O::V hidden_gate(const float* gh, const float* bh, int i) {
  return kBias ? O::add(O::load(gh + i), O::load(bh + i)) : O::load(gh + i);
}

// GRU units [i, i + N lanes): gates r and z (sigmoids, into rz: r at rz[0],
// z at rz[stride]), then the candidate c and h = c + z (h - c).
template <class O, int N, bool kBias>
inline void gru_gates(const float* gi, const float* gh, const float* bh, int n, int i, float* rz, int stride) {
  using V = typename O::V;
  constexpr int L = O::lanes;
  for (int g = 0; g < 2; ++g) {
    V v[N];
    for (int q = 0; q < N; ++q)
      v[q] = O::add(O::load(gi + g * n + i + q * L), hidden_gate<O, kBias>(gh, bh, g * n + i + q * L));
    sigmoid_n<O, N>(v);
    for (int q = 0; q < N; ++q) O::store(rz + g * stride + q * L, v[q]);
  }
}
template <class O, int N, bool kBias>
inline void gru_candidate(float* h, const float* gi, const float* gh, const float* bh, int n, int i, const float* rz,
                          int stride) {
  using V = typename O::V;
  constexpr int L = O::lanes;
  V c[N];
  for (int q = 0; q < N; ++q)
    c[q] = O::fma(O::load(rz + q * L), hidden_gate<O, kBias>(gh, bh, 2 * n + i + q * L), O::load(gi + 2 * n + i + q * L));
  tanh_n<O, N>(c);
  for (int q = 0; q < N; ++q) {
    float* hq = h + i + q * L;
    O::store(hq, O::fma(O::load(rz + stride + q * L), O::sub(O::load(hq), c[q]), c[q]));  // c + z (h - c)
  }
}

// Chunks of kChunk units: all their r and z gates (kChunk / (N lanes)
// independent groups), then their candidates; the rest a vector, then a
// lane, at a time.
template <class O, bool kBias>
void gru_run(float* h, const float* gi, const float* gh, const float* bh, int n) {
  constexpr int L = O::lanes, N = 4, kChunk = 64;
  static_assert(kChunk % (N * L) == 0, "a chunk is whole groups");
  float rz[2 * kChunk];
  int i0 = 0;
  for (; i0 + kChunk <= n; i0 += kChunk) {
    for (int j = 0; j < kChunk; j += N * L) gru_gates<O, N, kBias>(gi, gh, bh, n, i0 + j, rz + j, kChunk);
    for (int j = 0; j < kChunk; j += N * L) gru_candidate<O, N, kBias>(h, gi, gh, bh, n, i0 + j, rz + j, kChunk);
  }
  for (; i0 + L <= n; i0 += L) {
    gru_gates<O, 1, kBias>(gi, gh, bh, n, i0, rz, L);
    gru_candidate<O, 1, kBias>(h, gi, gh, bh, n, i0, rz, L);
  }
  for (; i0 < n; ++i0) {
    gru_gates<ScalarOps, 1, kBias>(gi, gh, bh, n, i0, rz, 1);
    gru_candidate<ScalarOps, 1, kBias>(h, gi, gh, bh, n, i0, rz, 1);
  }
}

template <class O>
void gru_update_impl(float* h, const float* gi, const float* gh, const float* bh, int n) {
  if (bh)
    gru_run<O, true>(h, gi, gh, bh, n);
  else
    gru_run<O, false>(h, gi, gh, bh, n);
}

// Sum of p[0, m) for m a multiple of O::lanes: vertical adds into two
// accumulators (a single chain waits on add latency), one horizontal sum.
template <class O>
inline float vector_sum(const float* p, int m) {
  constexpr int L = O::lanes;
  auto a = O::load(p), b = O::set1(0.0f);
  int j = L;
  for (; j + 2 * L <= m; j += 2 * L) {
    a = O::add(a, O::load(p + j));
    b = O::add(b, O::load(p + j + L));
  }
  if (j < m) a = O::add(a, O::load(p + j));
  return O::hsum(O::add(a, b));
}

// Inverse-CDF draw from softmax(logits) with one uniform: the first k whose
// running sum of exp(l - max) reaches u * total (n - 1 when rounding leaves
// the walk short), skipping classes more than `cut` below the largest logit
// (probability 0 at kNegligibleLogit, else the tail cut). A trained model's
// logits spread over hundreds, so most vectors are skipped whole, without an
// exp.
// One vector pass takes the exps (into scratch, n floats) and their total;
// the walk then skips chunks of 64 classes, then vectors, then takes single
// classes.
template <class O>
int sample_softmax_impl(const float* logits, int n, float u, float cut, float* scratch) {
  using V = typename O::V;
  constexpr int L = O::lanes, kChunk = 64;
  static_assert(kChunk % L == 0, "a chunk is whole vectors");
  V vm = O::set1(-3.0e38f), vm2 = vm;
  int i = 0;
  for (; i + 2 * L <= n; i += 2 * L) {
    vm = O::max(vm, O::load(logits + i));
    vm2 = O::max(vm2, O::load(logits + i + L));
  }
  for (; i + L <= n; i += L) vm = O::max(vm, O::load(logits + i));
  float mx = O::hmax(O::max(vm, vm2));
  for (; i < n; ++i) mx = vmax(mx, logits[i]);

  const float cutoff = mx - cut;
  const V vmx = O::set1(mx), vcutoff = O::set1(cutoff), zero = O::set1(0.0f);
  constexpr int N = 4;  // vectors per group (exp_n); a group is skipped when all its classes are negligible
  V acc[N] = {zero, zero, zero, zero};  // one per vector of a group: independent add chains
  for (i = 0; i + N * L <= n; i += N * L) {
    V l[N], e[N];
    for (int q = 0; q < N; ++q) l[q] = O::load(logits + i + q * L);
    if (!O::any_ge(O::max(O::max(l[0], l[1]), O::max(l[2], l[3])), vcutoff)) {
      for (int q = 0; q < N; ++q) O::store(scratch + i + q * L, zero);
      continue;
    }
    for (int q = 0; q < N; ++q) e[q] = O::sub(l[q], vmx);
    exp_n<O, N>(e);
    for (int q = 0; q < N; ++q) {
      e[q] = O::keep_ge(e[q], l[q], vcutoff);
      O::store(scratch + i + q * L, e[q]);
      acc[q] = O::add(acc[q], e[q]);
    }
  }
  for (; i + L <= n; i += L) {
    const V l = O::load(logits + i);
    if (!O::any_ge(l, vcutoff)) {
      O::store(scratch + i, zero);
      continue;
    }
    const V e = O::keep_ge(exp_v<O>(O::sub(l, vmx)), l, vcutoff);
    O::store(scratch + i, e);
    acc[0] = O::add(acc[0], e);
  }
  float total = O::hsum(O::add(O::add(acc[0], acc[1]), O::add(acc[2], acc[3])));
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
