// Frame-rate conditioning networks shared by model families:
//  * MelResNet: conv (k = 2 pad + 1, valid) -> BN -> ReLU -> residual blocks
//    of 1x1 convs -> 1x1 out conv; batch norm is folded into the convs at load.
//  * Upsampler: per upsample factor s, repeat each step s times then smooth
//    along time with a shared (1, k) kernel, zero-padded ("same" length).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "format/safetensors.h"
#include "matrix/column_major_matrix.h"
#include "matrix/dense_matrix.h"

namespace sparsewave {

struct MelResNet {
  int n_mels = 0, compute_dims = 0, res_out_dims = 0, kernel = 0;
  ColumnMajorMatrix conv_in;  // compute_dims x (kernel * n_mels), column j*n_mels + m
  std::vector<float> conv_in_bias;
  struct Block { ColumnMajorMatrix w1, w2; std::vector<float> b1, b2; };
  std::vector<Block> blocks;
  ColumnMajorMatrix conv_out;  // res_out_dims x compute_dims
  std::vector<float> conv_out_bias;

  // Loads `prefix`conv_in / batch_norm / layers.i.{conv1,batch_norm1,conv2,batch_norm2} / conv_out.
  void load(const SafetensorsFile& f, const std::string& prefix, int n_mels, int compute_dims, int res_out_dims,
            int res_blocks, int kernel, float bn_eps);

  // padded_mels: (frames + kernel - 1) x n_mels -> frames x res_out_dims.
  std::vector<float> run(const float* padded_mels, int64_t frames) const;
};

struct Upsampler {
  std::vector<int> factors;
  std::vector<std::vector<float>> kernels;  // empty kernel = plain repeat

  int64_t total_factor() const;
  // in: n x channels (row-major) -> (n * total_factor) x channels.
  std::vector<float> run(const std::vector<float>& in, int64_t n, int channels) const;
  // Samples by which the smoothing filters reach past a frame's own span.
  int64_t reach() const;
};

// The upsampler is linear and periodic with period hop, so sample t is
// sum_f frame[f] g(t - f hop): a few frames per sample ("polyphase" form).
// taps[phase] lists (frames back from t / hop, weight g). Exact wherever the
// stages' zero padding is out of reach (always, for a single stage).
struct PolyphaseTap { int frame_back; float weight; };
std::vector<std::vector<PolyphaseTap>> polyphase_taps(const Upsampler& up);

// How many frames the taps reach before (back) and after (ahead) a sample's
// own frame, over all phases (0 when they stay inside it).
struct TapReach { int back = 0, ahead = 0; };
TapReach tap_reach(const std::vector<std::vector<PolyphaseTap>>& taps);

}  // namespace sparsewave
