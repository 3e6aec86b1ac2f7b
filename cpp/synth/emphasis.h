// Pre-emphasis y[n] = x[n] - a x[n-1] and its inverse, de-emphasis.
//
// A model trained on pre-emphasised audio (config "preemphasis": a) samples y;
// de-emphasis, a one-pole low-pass, turns y back into audio and shapes the
// model's sampling noise like the speech spectrum (loud where speech is loud,
// quiet in the high bands where speech is weak), the noise shaping LPCNet uses.
#pragma once
#include <cstdint>

namespace sparsewave {

// In place: x[n] = y[n] + a x[n-1], with x[-1] = *state; *state becomes the
// last unclipped x. Outputs are clipped to [-1, 1] (the state is not, so the
// filter stays the exact inverse of preemphasize).
void deemphasize(float* samples, int64_t n, float a, double* state);

// out[n] = x[n] - a x[n-1] (in double, rounded to float), with x[-1] = 0.
// out may not alias x.
void preemphasize(const float* x, int64_t n, float a, float* out);

}  // namespace sparsewave
