// Counter-based uniforms: the value for (seed, stream, index) is a pure
// function, so batched folds, threads and streaming all draw exactly the
// numbers an unbatched run would, in any order.
#pragma once
#include <cstdint>

namespace sparsewave {

inline uint64_t mix64(uint64_t z) {  // splitmix64 finaliser
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Uniform in [0, 1) with 24 random bits (exactly representable in float).
inline float counter_uniform(uint64_t seed, uint64_t stream, uint64_t index) {
  const uint64_t h = mix64(mix64(seed ^ 0x9e3779b97f4a7c15ULL) + mix64(stream * 0xd1b54a32d192ed03ULL + 1) + index);
  return static_cast<float>(mix64(h) >> 40) * (1.0f / 16777216.0f);
}

}  // namespace sparsewave
