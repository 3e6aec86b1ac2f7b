// The load budget (docs/format.md, "Load budget"): how much a model may
// precompute when it is loaded. Real models use a few percent of it; a small
// hostile file whose config claims huge dimensions is refused with a clear
// error instead of costing gigabytes or minutes.
#pragma once
#include <cstdint>
#include <string>

#include "model/conditioning_net.h"

namespace sparsewave {

// Floats of conditioning tables a model builds at load and reads per frame
// (fatchord: n_mels projections of the hoisted layers and I's aux columns;
// dual-softmax: cond.weight). 2^22 floats = 16 MiB.
constexpr int64_t kMaxTableFloats = int64_t(1) << 22;
// Multiply-adds spent building them (matrix compositions, upsampling taps).
constexpr int64_t kMaxLoadMacs = int64_t(1) << 30;

class LoadBudget {
 public:
  // Add to the running totals; throw std::invalid_argument naming `what`
  // (and the budget) once a total passes its limit.
  void add_table(const std::string& what, int64_t rows, int64_t cols);
  void add_macs(const std::string& what, int64_t macs);

 private:
  int64_t table_floats_ = 0, macs_ = 0;
};

// Multiply-adds polyphase_taps(up) spends (it upsamples a short impulse).
int64_t polyphase_taps_macs(const Upsampler& up);

}  // namespace sparsewave
