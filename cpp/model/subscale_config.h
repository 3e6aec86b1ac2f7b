// Architecture config of the Subscale WaveRNN family (docs/subscale.md): the
// dual-softmax cell plus the sub-tensor schedule and the context stack.
#pragma once
#include "format/json.h"
#include "model/dual_softmax_config.h"

namespace sparsewave {

// Most floats the context stack may keep (2^context_layers x context_channels).
constexpr long long kMaxContextHistory = 1 << 22;

struct SubscaleConfig {
  DualSoftmaxConfig cell;
  int sub_tensors = 16;      // B: samples per step after the ramp
  int horizon = 8;           // F: sub-tensor b starts F steps after b - 1
  int context_channels = 64; // C
  int context_layers = 6;    // D: dilations 1 .. 2^(D-1)
  int context_features = 8;  // E: features per group into its gates
  bool fused = false;        // Fused Subscale: one state per pair of sub-tensors, two samples per step each
  int members() const { return fused ? 2 : 1; }  // sub-tensors per state vector
  int groups() const { return sub_tensors / members(); }  // state vectors per step: B or B / 2
  static SubscaleConfig from_json(const JsonValue& config);
};

}  // namespace sparsewave
