#include "api/vocoder.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "synth/emphasis.h"

namespace sparsewave {

std::unique_ptr<Vocoder> Vocoder::load(const std::string& path, const LoadOptions& options) {
  auto v = std::make_unique<Vocoder>();
  v->file_ = load_model(path, options);
  return v;
}

std::vector<StreamSpan> Vocoder::fold_spans(int64_t frames, int64_t target, int64_t overlap) const {
  if (frames < 1 || frames > kMaxFoldedSamples / model().hop_length())
    throw std::invalid_argument("frames must be a positive number of mel frames, at most " +
                                std::to_string(kMaxFoldedSamples / model().hop_length()) + ", got " +
                                std::to_string(frames));
  return plan_model_folds(model(), frames * model().hop_length(), target, overlap).spans;
}

std::vector<float> Vocoder::synthesize(const float* mels, int64_t frames, const SynthesisOptions& o) const {
  const auto cond = model().condition(mels, frames);
  if (cond->n_samples == 0) return {};
  std::vector<float> out = o.batched ? generate_folded(model(), *cond, o) : generate_unbatched(model(), *cond, o);
  // Folds are de-emphasised after the crossfade, as one signal.
  if (preemphasis() != 0.0f) {
    double state = 0.0;
    deemphasize(out.data(), static_cast<int64_t>(out.size()), preemphasis(), &state);
  }
  return out;
}

double Vocoder::teacher_forced(const float* mels, int64_t frames, const float* audio, int64_t n, float* logits) const {
  const auto cond = model().condition(mels, frames);
  if (n > cond->n_samples)
    throw std::invalid_argument("audio has " + std::to_string(n) + " samples but the mels cover only " +
                                std::to_string(cond->n_samples));
  if (preemphasis() == 0.0f) return model().teacher_forced(*cond, audio, n, logits);
  std::vector<float> emphasised(static_cast<std::size_t>(std::max<int64_t>(n, 0)));
  preemphasize(audio, n, preemphasis(), emphasised.data());
  return model().teacher_forced(*cond, emphasised.data(), n, logits);
}

}  // namespace sparsewave
