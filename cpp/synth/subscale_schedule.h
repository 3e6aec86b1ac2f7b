// Subscale WaveRNN's generation order (docs/subscale.md): an utterance of L
// samples folded into B sub-tensors of T positions (sample t = j * B + b is
// position j of sub-tensor b). Sub-tensors are generated in groups of
// `members` (1; 2 for Fused Subscale, whose pairs share one state): position
// j of group g (sub-tensors g * members ...) is generated at step j + g * F.
// The start-up ramp, the steady state and the ramp-down all come from that
// one rule.
#pragma once
#include <algorithm>
#include <cstdint>

namespace sparsewave {

struct SubscaleSchedule {
  int sub_tensors = 1;  // B
  int horizon = 1;      // F
  int members = 1;      // sub-tensors per group
  int64_t positions = 0;  // T = ceil(L / B)

  SubscaleSchedule(int64_t samples, int b, int f, int m = 1)
      : sub_tensors(b), horizon(f), members(m), positions((samples + b - 1) / b) {}

  int groups() const { return sub_tensors / members; }
  int64_t n_steps() const { return positions == 0 ? 0 : positions + static_cast<int64_t>(groups() - 1) * horizon; }
  int64_t position(int group, int64_t step) const { return step - static_cast<int64_t>(group) * horizon; }
  int64_t time(int b, int64_t position) const { return position * sub_tensors + b; }

  // The groups active at `step`: [first, end), contiguous (0 <= step - g F < T).
  int first_active(int64_t step) const {
    const int64_t past_end = step - positions + 1;  // g must satisfy g * F >= past_end
    return past_end <= 0 ? 0 : static_cast<int>(std::min<int64_t>(groups(), (past_end + horizon - 1) / horizon));
  }
  int end_active(int64_t step) const { return static_cast<int>(std::min<int64_t>(groups(), step / horizon + 1)); }
  // Steps until the first B samples (grid column 0) are all generated.
  int64_t steps_to_first_audio() const { return static_cast<int64_t>(groups() - 1) * horizon + 1; }
};

}  // namespace sparsewave
