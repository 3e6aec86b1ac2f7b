// Incremental synthesis: mel frames arrive in pieces (streaming TTS), audio
// leaves as soon as its conditioning is final. The samples equal, bit for
// bit, what Vocoder::synthesize returns unbatched with the same seed.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "api/vocoder.h"

namespace sparsewave {

class Stream {
 public:
  Stream(const Vocoder& vocoder, uint64_t seed);

  // Appends frames (frames x n_mels, finite). Throws after finish().
  void push(const float* mels, int64_t frames);
  // No more frames: the rest of the utterance becomes available.
  void finish();
  // Samples that can be generated now.
  int64_t available() const;
  // Generates min(max_samples, available()) samples.
  std::vector<float> pull(int64_t max_samples);

  int64_t frames() const { return static_cast<int64_t>(mels_.size()) / n_mels_; }
  int64_t samples_done() const { return state_ ? state_->step : 0; }
  bool finished() const { return finished_; }

 private:
  const Vocoder& vocoder_;
  uint64_t seed_;
  int n_mels_;
  std::vector<float> mels_;
  bool finished_ = false;
  std::unique_ptr<Conditioning> cond_;  // of all frames so far; rebuilt after a push
  std::unique_ptr<GenerationState> state_;
  double deemphasis_state_ = 0.0;  // the last output sample before clipping
};

}  // namespace sparsewave
