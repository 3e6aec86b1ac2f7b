#include "model/load_budget.h"

#include <stdexcept>

namespace sparsewave {

namespace {
// Saturating: a hostile config must not overflow the count it is judged by.
int64_t saturating_add(int64_t a, int64_t b) { return b > INT64_MAX - a ? INT64_MAX : a + b; }
int64_t saturating_mul(int64_t a, int64_t b) { return a != 0 && b > INT64_MAX / a ? INT64_MAX : a * b; }
}  // namespace

void LoadBudget::add_table(const std::string& what, int64_t rows, int64_t cols) {
  table_floats_ = saturating_add(table_floats_, saturating_mul(rows, cols));
  if (table_floats_ > kMaxTableFloats)
    throw std::invalid_argument("config: the model's precomputed conditioning tables need more than " +
                                std::to_string(kMaxTableFloats) + " floats, the load budget (reached at " + what +
                                ": " + std::to_string(rows) + " x " + std::to_string(cols) +
                                "); see docs/format.md, 'Load budget'");
}

void LoadBudget::add_macs(const std::string& what, int64_t macs) {
  macs_ = saturating_add(macs_, macs);
  if (macs_ > kMaxLoadMacs)
    throw std::invalid_argument("config: precomputing the model's conditioning needs more than " +
                                std::to_string(kMaxLoadMacs) + " multiply-adds, the load budget (reached at " + what +
                                "); see docs/format.md, 'Load budget'");
}

int64_t polyphase_taps_macs(const Upsampler& up) {
  // polyphase_taps runs Upsampler::run over 2 * margin + 1 frames, one channel;
  // stage s makes frames * (factors[0..s] product) samples of kernel-size taps.
  const int64_t hop = up.total_factor();
  const int64_t frames = 2 * (up.reach() / hop + 2) + 1;
  int64_t samples = frames, macs = 0;
  for (std::size_t s = 0; s < up.factors.size(); ++s) {
    samples = saturating_mul(samples, up.factors[s]);
    const int64_t k = static_cast<int64_t>(up.kernels[s].size());
    macs = saturating_add(macs, saturating_mul(samples, k == 0 ? 1 : k));
  }
  return macs;
}

}  // namespace sparsewave
