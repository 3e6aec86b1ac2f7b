// Incremental synthesis: mel frames arrive in pieces (streaming TTS), audio
// leaves as soon as its conditioning is final. The samples equal, bit for
// bit, what Vocoder::synthesize returns unbatched with the same seed.
//
// Each frame is conditioned once (Model::extend_conditioning), so a stream
// costs the same per frame however long it runs. Every member takes one
// lock: a Stream may be shared by threads (their calls are serialised).
#pragma once
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
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

  int n_mels() const { return vocoder_.model().n_mels(); }
  int64_t frames() const;
  int64_t samples_done() const;
  bool finished() const;
  // Frames run through the model's conditioning network (each frame once).
  int64_t frames_conditioned() const;

 private:
  void add_conditioning(std::unique_ptr<Conditioning> piece);

  mutable std::mutex mutex_;
  const Vocoder& vocoder_;
  uint64_t seed_;
  std::unique_ptr<ConditioningStream> conditioning_;
  // Final conditioning of the samples not generated yet, in order.
  std::deque<std::unique_ptr<Conditioning>> pending_;
  std::unique_ptr<GenerationState> state_;
  double deemphasis_state_ = 0.0;  // the last output sample before clipping
};

}  // namespace sparsewave
