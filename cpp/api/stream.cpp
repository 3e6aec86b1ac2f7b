#include "api/stream.h"

#include <algorithm>
#include <limits>
#include <stdexcept>

#include "synth/emphasis.h"
#include "synth/uniforms.h"

namespace sparsewave {

Stream::Stream(const Vocoder& vocoder, uint64_t seed)
    : vocoder_(vocoder), seed_(seed), conditioning_(vocoder.model().start_conditioning()) {
  if (!vocoder.model().streams())
    throw std::invalid_argument("a " + vocoder.model().family() +
                                " model generates whole utterances and cannot stream; use synthesize()");
}

void Stream::add_conditioning(std::unique_ptr<Conditioning> piece) {
  if (piece) pending_.push_back(std::move(piece));
}

void Stream::push(const float* mels, int64_t frames) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (conditioning_->finished) throw std::invalid_argument("push() after flush: start a new stream");
  if (frames <= 0) return;
  add_conditioning(vocoder_.model().extend_conditioning(*conditioning_, mels, frames, false));
}

void Stream::finish() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (conditioning_->finished) return;
  add_conditioning(vocoder_.model().extend_conditioning(*conditioning_, nullptr, 0, true));
}

int64_t Stream::available() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return conditioning_->final_samples - (state_ ? state_->step : 0);
}

std::vector<float> Stream::pull(int64_t max_samples) {
  std::lock_guard<std::mutex> lock(mutex_);
  const Model& m = vocoder_.model();
  const int64_t done = state_ ? state_->step : 0;
  const int64_t n = std::min(std::max<int64_t>(0, max_samples), conditioning_->final_samples - done);
  if (n <= 0) return {};
  if (!state_) state_ = m.start_generation(1);
  std::vector<float> out(static_cast<std::size_t>(n));
  // The same uniforms as an unbatched synthesize() with this seed.
  const StreamSpan whole{0, std::numeric_limits<int64_t>::max() / 4};
  const UniformFn uniforms = whole_utterance_uniforms(seed_);
  for (int64_t i = 0; i < n;) {
    const Conditioning& piece = *pending_.front();
    const int64_t steps = std::min(n - i, piece.n_samples - state_->step);
    m.continue_generation(piece, {whole}, *state_, steps, uniforms, {out.data() + i}, nullptr);
    i += steps;
    if (state_->step == piece.n_samples) pending_.pop_front();
  }
  if (vocoder_.preemphasis() != 0.0f) deemphasize(out.data(), n, vocoder_.preemphasis(), &deemphasis_state_);
  return out;
}

int64_t Stream::frames() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return conditioning_->frames_in;
}

int64_t Stream::samples_done() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return state_ ? state_->step : 0;
}

bool Stream::finished() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return conditioning_->finished;
}

int64_t Stream::frames_conditioned() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return conditioning_->frames_conditioned;
}

}  // namespace sparsewave
