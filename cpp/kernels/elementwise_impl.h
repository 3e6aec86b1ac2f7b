// Element-wise loop kernels written once in portable C++ and compiled once
// per ISA (elementwise_*.cpp include this with their own -m flags), so the
// compiler vectorises each for its vector width. Everything here is in an
// anonymous namespace: each ISA's copy stays private to its file.
// Reductions keep 16 independent partial results so they vectorise without
// -ffast-math.
#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/elementwise.h"
#include "numerics/activations.h"

namespace {

constexpr int kLanes = 16;

// PyTorch GRU cell update over n entries; gates r, z, n are consecutive
// blocks of n entries in gi (input side) and gh (hidden side).
void gru_update_impl(float* h, const float* gi, const float* gh, int n) {
  for (int i = 0; i < n; ++i) {
    const float r = sparsewave::fast_sigmoid(gi[i] + gh[i]);
    const float z = sparsewave::fast_sigmoid(gi[n + i] + gh[n + i]);
    const float c = sparsewave::fast_tanh(gi[2 * n + i] + r * gh[2 * n + i]);
    h[i] = c + z * (h[i] - c);
  }
}

// Inverse-CDF draw from softmax(logits) with one uniform: the first k whose
// running sum of exp(l - max) reaches u * total (clamped to n - 1).
// scratch holds n floats.
int sample_softmax_impl(const float* logits, int n, float u, float* scratch) {
  float part[kLanes];
  for (int j = 0; j < kLanes; ++j) part[j] = -3.0e38f;
  int i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int j = 0; j < kLanes; ++j) part[j] = sparsewave::vmax(part[j], logits[i + j]);
  float mx = -3.0e38f;
  for (int j = 0; j < kLanes; ++j) mx = sparsewave::vmax(mx, part[j]);
  for (; i < n; ++i) mx = sparsewave::vmax(mx, logits[i]);
  for (int k = 0; k < n; ++k) scratch[k] = sparsewave::fast_exp(logits[k] - mx);
  // Block sums (vectorised), then a scalar walk over blocks and inside one.
  const int blocks = n / kLanes;
  float total = 0.0f;
  float sums_stack[256];
  float* sums = blocks <= 256 ? sums_stack : nullptr;
  for (int b = 0; b < blocks; ++b) {
    float s = 0.0f;
    for (int j = 0; j < kLanes; ++j) s += scratch[b * kLanes + j];
    if (sums) sums[b] = s;
    total += s;
  }
  for (int k = blocks * kLanes; k < n; ++k) total += scratch[k];
  const float target = u * total;
  float running = 0.0f;
  int k = 0;
  if (sums) {
    for (int b = 0; b < blocks; ++b) {
      if (running + sums[b] >= target) break;
      running += sums[b];
      k += kLanes;
    }
  }
  for (; k < n; ++k) {
    running += scratch[k];
    if (running >= target && scratch[k] > 0.0f) return k;
  }
  return n - 1;
}

// y[i] = max(y[i], 0)
void relu_impl(float* y, int n) {
  for (int i = 0; i < n; ++i) y[i] = sparsewave::vmax(y[i], 0.0f);
}

// This file's copies as table slots.
sparsewave::ElementwiseKernels elementwise_from_impl() { return {gru_update_impl, sample_softmax_impl, relu_impl}; }

}  // namespace
