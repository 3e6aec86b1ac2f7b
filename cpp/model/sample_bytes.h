// The dual softmax's 16-bit sample as two bytes (coarse c, fine f): how a
// byte enters the network and how bytes map to and from a value in [-1, 1].
#pragma once
#include <algorithm>
#include <cmath>

namespace sparsewave {

// Byte value k in [0, 255] as the network's input in [-1, 1].
inline float byte_input(int k) { return k / 127.5f - 1.0f; }

// 16-bit sample from its bytes, in [-1, 1]; and back.
inline float bytes_to_value(int c, int f) { return (c * 256 + f) / 32767.5f - 1.0f; }
inline int value_to_u16(float x) {  // in double, so the byte split has no float rounding ties
  const double v = std::floor((std::min(std::max(static_cast<double>(x), -1.0), 1.0) + 1.0) * 32767.5 + 0.5);
  return static_cast<int>(std::min(std::max(v, 0.0), 65535.0));
}

}  // namespace sparsewave
