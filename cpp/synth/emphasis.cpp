#include "synth/emphasis.h"

#include "numerics/unit_range.h"

namespace sparsewave {

void deemphasize(float* samples, int64_t n, float a, double* state) {
  // Accumulate in double: a is close to 1 and utterances are long.
  double prev = *state;
  for (int64_t i = 0; i < n; ++i) {
    prev = samples[i] + static_cast<double>(a) * prev;
    samples[i] = static_cast<float>(clamp_unit(prev));
  }
  *state = prev;
}

void preemphasize(const float* x, int64_t n, float a, float* out) {
  // In double, rounded once: the trainer computes the same in NumPy, and the
  // 16-bit split of the result must not depend on FMA contraction.
  double prev = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    out[i] = static_cast<float>(x[i] - static_cast<double>(a) * prev);
    prev = x[i];
  }
}

}  // namespace sparsewave
