// Architecture config of the fatchord WaveRNN family (fatchord/WaveRNN,
// Coqui TTS, geneing/WaveRNN-Pytorch), parsed and range-checked from JSON.
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "format/json.h"
#include "model/audio_config.h"
#include "model/sampling_config.h"

namespace sparsewave {

struct FatchordConfig : AudioConfig, SamplingConfig {
  int pad = 0;
  std::vector<int> upsample_factors, upsample_kernel_sizes;
  int res_blocks = 0, compute_dims = 0, res_out_dims = 0;
  float bn_eps = 1e-5f;
  int rnn_dims = 0, fc_dims = 0, n_rnn = 1;
  std::vector<std::string> fc_names;
  std::map<std::string, std::pair<int, int>> aux_slices;  // consumer -> [start, stop)
  std::string head;  // "softmax" or "mol"
  int bits = 0, n_classes = 0;
  bool mu_law = false;
  int mol_n_mix = 0;
  float mol_log_scale_min = -32.23619f;

  static FatchordConfig from_json(const JsonValue& config);
  int aux_width(const std::string& consumer) const;
  int aux_start(const std::string& consumer) const;
};

}  // namespace sparsewave
