// Batched ("folded") generation geometry and the crossfade that joins folds.
//
// The utterance is cut into folds of target + 2*overlap samples, one every
// target + overlap, so neighbours share `overlap` samples. Each fold starts
// from a zero state, so in a shared region the first half is the new fold's
// warm-up and is discarded; the second half is an equal-power crossfade.
// Unlike fatchord's xfade_and_unfold, nothing fades at the very start or end
// of the utterance, no gap of silence is inserted, and the output is trimmed
// to the utterance's length and clipped to [-1, 1].
#pragma once
#include <cstdint>
#include <vector>

#include "model/model.h"

namespace sparsewave {

struct FoldPlan {
  int64_t total = 0, target = 0, overlap = 0;
  std::vector<StreamSpan> spans;
};

// Longest utterance plan_folds takes (its sums stay far inside int64).
constexpr int64_t kMaxFoldedSamples = int64_t(1) << 60;

// Throws std::invalid_argument for target < 1, overlap < 0 or total outside
// [0, kMaxFoldedSamples]. A target or overlap longer than the utterance is
// clamped to it, and a single fold is exactly the utterance long.
FoldPlan plan_folds(int64_t total, int64_t target, int64_t overlap);

// folds[i] holds spans[i].length samples; returns `total` samples.
std::vector<float> crossfade_folds(const FoldPlan& plan, const std::vector<std::vector<float>>& folds);

}  // namespace sparsewave
