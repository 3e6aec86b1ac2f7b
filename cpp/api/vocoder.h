// The C++ Vocoder: load a weight file, then mel spectrogram in, waveform out.
// This is the whole engine without Python (the pybind11 module wraps it).
// Thread safety: a loaded Vocoder is immutable; its const members may run
// concurrently from any number of threads (each call keeps its own state).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/model.h"
#include "model/model_file.h"
#include "synth/generate.h"

namespace sparsewave {

class Vocoder {
 public:
  // Throws std::invalid_argument (bad/corrupt file, unsupported version or
  // config) or IoError (cannot open/read, format/io_error.h).
  static std::unique_ptr<Vocoder> load(const std::string& path, const LoadOptions& options = {});

  const Model& model() const { return *file_.model; }
  const std::string& config_json() const { return file_.config_json; }
  int format_version() const { return file_.format_version; }
  // The model samples pre-emphasised audio (config "preemphasis", 0 = none);
  // synthesize and Stream de-emphasise, teacher_forced pre-emphasises.
  float preemphasis() const { return file_.preemphasis; }

  // mels: frames x n_mels (row-major, finite). Returns frames * hop samples.
  std::vector<float> synthesize(const float* mels, int64_t frames, const SynthesisOptions& options) const;

  // The fold layout synthesize would use (for callers passing uniforms).
  std::vector<StreamSpan> fold_spans(int64_t frames, int64_t target, int64_t overlap) const;

  // Teacher-forced logits (n x n_classes) and summed -log2 likelihood.
  double teacher_forced(const float* mels, int64_t frames, const float* audio, int64_t n, float* logits) const;

 private:
  ModelFile file_;
};

}  // namespace sparsewave
