#include "synth/folding.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "numerics/unit_range.h"

namespace sparsewave {

FoldPlan plan_folds(int64_t total, int64_t target, int64_t overlap) {
  if (total < 0 || total > kMaxFoldedSamples)
    throw std::invalid_argument("an utterance of " + std::to_string(total) + " samples is outside [0, 2^60]");
  if (target < 1) throw std::invalid_argument("target must be at least 1 sample");
  if (overlap < 0) throw std::invalid_argument("overlap must not be negative");
  // A target or overlap past the utterance only adds steps whose samples are
  // discarded: clamp both to it (the layout is the same, and every sum below
  // stays within 3 * total).
  target = std::min(target, std::max<int64_t>(total, 1));
  overlap = std::min(overlap, total);
  FoldPlan p;
  p.total = total;
  p.target = target;
  p.overlap = overlap;
  const int64_t stride = target + overlap;
  const int64_t n = std::max<int64_t>(1, (total - overlap + stride - 1) / stride);
  // Several folds: each is shorter than the utterance. One fold: it is the
  // utterance, with no neighbour to overlap.
  const int64_t length = n == 1 ? total : target + 2 * overlap;
  for (int64_t i = 0; i < n; ++i) p.spans.push_back({i * stride, length});
  return p;
}

std::vector<float> crossfade_folds(const FoldPlan& p, const std::vector<std::vector<float>>& folds) {
  const int64_t stride = p.target + p.overlap;
  const int64_t warmup = p.overlap / 2, fade = p.overlap - warmup;
  std::vector<float> out(static_cast<std::size_t>(p.total), 0.0f);
  for (std::size_t i = 0; i < folds.size(); ++i) {
    const int64_t start = static_cast<int64_t>(i) * stride;
    const std::vector<float>& y = folds[i];
    const int64_t len = static_cast<int64_t>(y.size());
    const bool has_prev = i > 0, has_next = i + 1 < folds.size();
    // This fold owns [own_begin, own_end) alone, fades in over the `fade`
    // samples before own_begin and out over the `fade` samples after own_end.
    const int64_t own_begin = has_prev ? warmup + fade : 0;
    const int64_t own_end = has_next ? len - p.overlap + warmup : len;
    for (int64_t k = 0; k < len; ++k) {
      const int64_t t = start + k;
      if (t >= p.total) break;
      float g;
      if (k < own_begin) {
        if (k < warmup) continue;  // warm-up from the zero state: discarded
        const float tau = (static_cast<float>(k - warmup) + 0.5f) / static_cast<float>(fade);
        g = std::sin(1.5707963267948966f * tau);
      } else if (k >= own_end) {
        if (k >= own_end + fade) continue;
        const float tau = (static_cast<float>(k - own_end) + 0.5f) / static_cast<float>(fade);
        g = std::cos(1.5707963267948966f * tau);
      } else {
        g = 1.0f;
      }
      out[static_cast<std::size_t>(t)] += g * y[static_cast<std::size_t>(k)];
    }
  }
  // Equal power keeps uncorrelated folds' loudness, but two folds agreeing
  // near full scale can sum past it (up to sqrt 2): keep the [-1, 1] promise.
  for (float& v : out) v = clamp_unit(v);
  return out;
}

}  // namespace sparsewave
