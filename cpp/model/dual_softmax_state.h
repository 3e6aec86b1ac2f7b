// The dual-softmax cell's conditioning and loop state, shared by the
// dual_softmax family and the subscale family built on its cell.
#pragma once
#include <cstdint>
#include <vector>

#include "matrix/aligned_buffer.h"
#include "model/dual_softmax_model.h"

namespace sparsewave {

// Z of frames [z_first, z_end); frames outside read as zero (the padding
// around the utterance).
struct DualSoftmaxModel::Data final : Conditioning {
  int64_t z_first = 0, z_end = 0;
  std::vector<float> z;  // (z_end - z_first) x 3N: cond.weight * mel, permuted rows
};

// Streaming state: the Z rows the upsampling taps of the next samples read.
struct DualSoftmaxModel::Incremental final : ConditioningStream {
  int64_t z_first = 0;
  std::vector<float> z;  // Z of frames [z_first, frames_in)
  int64_t frames_done = 0;  // frames handed out (final_samples / hop)
};

// Stream-major loop state: stream s's vectors start at s * ld.
struct DualSoftmaxModel::Workspace : GenerationState {
  std::ptrdiff_t ld = 0;
  AlignedVector<float> h, gh, pre, hidden;
  std::vector<AlignedVector<float>> logits;  // per part (P = 2: coarse, fine)
  std::vector<std::vector<int>> bytes;       // bytes[p][s]: part p's previous (then current) byte of stream s
  std::vector<int64_t> t;
  std::vector<float> scratch;
  std::vector<const float*> terms;  // step's weighted-sum terms, allocated once
  std::vector<float> term_weights;
};

}  // namespace sparsewave
