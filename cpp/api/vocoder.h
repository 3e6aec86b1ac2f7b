// The C++ Vocoder: load a weight file, then mel spectrogram in, waveform out.
// This is the whole engine without Python (the pybind11 module wraps it).
#pragma once
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "../model/model.h"

namespace sparsewave {

constexpr int kFormatVersion = 1;

struct SynthesisOptions {
  uint64_t seed = 0;
  bool batched = false;
  int64_t target = 0;   // samples per fold (batched); 0 = half a second
  int64_t overlap = -1; // samples shared by neighbouring folds; -1 = 25 ms
  int threads = 1;
  // Optional uniforms: total samples (unbatched) or folds x fold_length (batched).
  const float* uniforms = nullptr;
  int64_t n_uniforms = 0;
  // Output samples done so far (all threads together); returning false
  // cancels synthesize(), which then throws SynthesisCancelled.
  ProgressFn progress;
};

struct SynthesisCancelled : std::runtime_error {
  SynthesisCancelled() : std::runtime_error("synthesis cancelled") {}
};

class Vocoder {
 public:
  // Throws std::invalid_argument (bad/corrupt file, unsupported version or
  // config) or std::runtime_error (cannot open/read).
  static std::unique_ptr<Vocoder> load(const std::string& path, const LoadOptions& options = {});

  const Model& model() const { return *model_; }
  const std::string& config_json() const { return config_json_; }
  int format_version() const { return format_version_; }
  // The model samples pre-emphasised audio (config "preemphasis", 0 = none);
  // synthesize and Stream de-emphasise, teacher_forced pre-emphasises.
  float preemphasis() const { return preemphasis_; }

  // mels: frames x n_mels (row-major, finite). Returns frames * hop samples.
  std::vector<float> synthesize(const float* mels, int64_t frames, const SynthesisOptions& options) const;

  // The fold layout synthesize would use (for callers passing uniforms).
  std::vector<StreamSpan> fold_spans(int64_t frames, int64_t target, int64_t overlap) const;

  // Teacher-forced logits (n x n_classes) and summed -log2 likelihood.
  double teacher_forced(const float* mels, int64_t frames, const float* audio, int64_t n, float* logits) const;

 private:
  // A whole utterance from the model's domain to audio (no-op without pre-emphasis).
  void deemphasize_output(std::vector<float>& out) const;

  std::unique_ptr<Model> model_;
  std::string config_json_;
  int format_version_ = 0;
  float preemphasis_ = 0.0f;
};

}  // namespace sparsewave
