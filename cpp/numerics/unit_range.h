// The one clamp to [-1, 1] for samples the engine returns: a NaN (which only
// overflowing arithmetic on extreme inputs can produce) becomes 0, so the
// output range is a promise even then.
#pragma once

namespace sparsewave {

template <class T>
inline T clamp_unit(T v) {
  if (v >= T(-1)) return v <= T(1) ? v : T(1);
  return v < T(-1) ? T(-1) : T(0);  // neither: NaN
}

}  // namespace sparsewave
