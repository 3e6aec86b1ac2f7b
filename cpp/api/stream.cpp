#include "api/stream.h"

#include <algorithm>
#include <limits>
#include <stdexcept>

#include "synth/emphasis.h"
#include "synth/uniforms.h"

namespace sparsewave {

Stream::Stream(const Vocoder& vocoder, uint64_t seed)
    : vocoder_(vocoder), seed_(seed), n_mels_(vocoder.model().n_mels()) {}

void Stream::push(const float* mels, int64_t frames) {
  if (finished_) throw std::invalid_argument("push() after flush: start a new stream");
  if (frames <= 0) return;
  mels_.insert(mels_.end(), mels, mels + frames * n_mels_);
  cond_.reset();
}

void Stream::finish() {
  finished_ = true;
  cond_.reset();
}

int64_t Stream::available() const {
  const Model& m = vocoder_.model();
  const int64_t ready_frames = finished_ ? frames() : std::max<int64_t>(0, frames() - m.lookahead_frames());
  return std::max<int64_t>(0, ready_frames * m.hop_length() - samples_done());
}

std::vector<float> Stream::pull(int64_t max_samples) {
  const int64_t n = std::min(std::max<int64_t>(0, max_samples), available());
  if (n == 0) return {};
  const Model& m = vocoder_.model();
  if (!cond_) cond_ = m.condition(mels_.data(), frames());
  if (!state_) state_ = m.start_generation(1);
  std::vector<float> out(static_cast<std::size_t>(n));
  // The same uniforms as an unbatched synthesize() with this seed.
  const StreamSpan whole{0, std::numeric_limits<int64_t>::max() / 4};
  m.continue_generation(*cond_, {whole}, *state_, n, whole_utterance_uniforms(seed_), {out.data()}, nullptr);
  if (vocoder_.preemphasis() != 0.0f) deemphasize(out.data(), n, vocoder_.preemphasis(), &deemphasis_state_);
  return out;
}

}  // namespace sparsewave
