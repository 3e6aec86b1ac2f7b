// Architecture config of the dual-softmax WaveRNN family, parsed and
// range-checked from JSON.
#pragma once
#include "format/json.h"
#include "model/audio_config.h"
#include "model/sampling_config.h"

namespace sparsewave {

struct DualSoftmaxConfig : AudioConfig, SamplingConfig {
  int hidden = 0, output_hidden = 0;
  int upsample_kernel = 0;  // 0: repeat only; odd k: repeat then a (k,) smoothing conv
  // Parts of the state, each with its own gates, head pair and 256-way byte,
  // generated in order: 2 for the paper's cell (coarse, fine), 4 for Fused
  // Subscale (coarse and fine of two samples; set by SubscaleConfig).
  int parts = 2;
  static DualSoftmaxConfig from_json(const JsonValue& config);
};

}  // namespace sparsewave
