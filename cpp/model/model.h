// The interface every model family implements, so the sample-loop drivers
// (unbatched, folded, threaded) and the API do not depend on a family.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "matrix/weight_type.h"

namespace sparsewave {

// How a model is loaded.
struct LoadOptions {
  // How the per-sample matrices store their weights: float16 halves the
  // bytes the sample loop streams from cache, int8 quarters them and runs the
  // int8 dot-product kernels (matrix/weight_type.h). Element-wise math stays
  // float32. Unset: as the file stores them, i.e. int8 when the file holds
  // int8 matrices, else float32. A file's int8 matrices run as stored with
  // int8; with float32 / float16 their dequantized weights are packed as
  // floats (docs/format.md, "int8 matrices").
  std::optional<WeightType> weights;
  // Per-sample matrices (file tensor names, e.g. "fc3.weight", or dotted
  // prefixes of them, "fc3") that stay
  // float32 whatever `weights` says: mixed precision for the layer whose
  // rounding costs most, typically the output layer, whose rows are the
  // logits (README, "Mixed precision"). A name that is not one of the
  // model's per-sample matrices is refused, naming those it has.
  std::vector<std::string> float_matrices;
  // Overrides the file's config["sampling"]["tail_cut"] (model/sampling_config.h).
  std::optional<double> tail_cut;
};

// Conditioning of samples [first_sample, n_samples) of an utterance: the
// whole of it (condition(), first_sample 0) or a streamed piece
// (extend_conditioning). Steps at or past n_samples read as zero
// conditioning (fold padding); steps before first_sample must not use it.
struct Conditioning {
  virtual ~Conditioning() = default;
  int64_t first_sample = 0;
  int64_t n_samples = 0;  // end: for a whole utterance, the samples its frames cover
};

// One utterance conditioned as its frames arrive (streaming): each frame
// runs through the conditioning network once, and between calls a family
// keeps only the frames its look-ahead and filters still need.
struct ConditioningStream {
  virtual ~ConditioningStream() = default;
  int64_t frames_in = 0;           // frames received
  int64_t frames_conditioned = 0;  // frames run through the conditioning network (a diagnostic)
  int64_t final_samples = 0;       // samples whose conditioning has been handed out
  bool finished = false;           // the last frame is in
};

// One autoregressive stream: samples [start, start+length) of the utterance
// (conditioning past the end reads as zeros), starting from a zero state.
struct StreamSpan {
  int64_t start = 0;
  int64_t length = 0;
};

// Where a stream's uniform number `index` comes from (index = step *
// uniforms_per_sample() + draw).
using UniformFn = std::function<float(int stream, int64_t index)>;

// Called from the generating thread with the steps finished so far (times
// the streams generated together); may be called concurrently from several
// threads and must be cheap. Returning false cancels the generation.
using ProgressFn = std::function<bool(int64_t samples_done)>;

// How continue_generation reports: after every 1024 steps and after the
// last. Returns false when the callback cancels.
inline bool report_progress(const ProgressFn& progress, int64_t steps_done, int64_t n_steps, int batch) {
  if (!progress || (steps_done % 1024 != 0 && steps_done != n_steps)) return true;
  return progress(steps_done * batch);
}

// A batch of streams' loop state between calls (hidden states, previous
// samples, step counter), so generation can continue chunk by chunk.
struct GenerationState {
  virtual ~GenerationState() = default;
  int64_t step = 0;  // steps generated so far (the same for every stream)
  // Products take the multi-vector kernel even for a single stream. The
  // single-vector kernel sums in another order, so where streams are grouped
  // in ways that vary (folds split over threads, subscale's active
  // sub-tensors), this keeps each stream's bits independent of its group.
  bool multi_vector = false;
};

class Model {
 public:
  virtual ~Model() = default;
  virtual std::string family() const = 0;
  virtual int sample_rate() const = 0;
  virtual int hop_length() const = 0;
  virtual int n_mels() const = 0;
  virtual int n_classes() const = 0;  // width of one row of teacher-forced logits
  virtual int uniforms_per_sample() const { return 1; }  // draws per generated sample
  // The softmax tail cut in force (a probability ratio: the load option, else
  // the file's config["sampling"], else 0); 0 for heads that take none.
  virtual double tail_cut() const { return 0.0; }
  // Whether samples can be generated as conditioning arrives (Stream); a
  // family that needs the whole utterance first says false.
  virtual bool streams() const { return true; }

  // mels: frames x n_mels, row-major.
  virtual std::unique_ptr<Conditioning> condition(const float* mels, int64_t frames) const = 0;

  // Incremental conditioning, bit-identical to condition() on all frames.
  // extend_conditioning adds `frames` frames (last: the utterance ends after
  // them) and returns the conditioning of the samples that became final,
  // [stream.final_samples before, after), or null when none did: frame f's
  // samples are final once frame f + lookahead_frames() is in, or at the end.
  // Throws std::invalid_argument after the last frame.
  virtual std::unique_ptr<ConditioningStream> start_conditioning() const = 0;
  virtual std::unique_ptr<Conditioning> extend_conditioning(ConditioningStream& stream, const float* mels,
                                                            int64_t frames, bool last) const = 0;

  // Zero state for `batch` streams.
  virtual std::unique_ptr<GenerationState> start_generation(int batch) const = 0;

  // Runs steps [state.step, state.step + n_steps) of the spans together
  // (weights loaded once per step for all of them); out[s][i] receives step
  // state.step + i of stream s where that is inside spans[s].length.
  virtual void continue_generation(const Conditioning& cond, const std::vector<StreamSpan>& spans,
                                   GenerationState& state, int64_t n_steps, const UniformFn& uniform,
                                   const std::vector<float*>& out, const ProgressFn& progress) const = 0;

  // Whole spans from a zero state. out[s] receives spans[s].length samples.
  // multi_vector: see GenerationState.
  void generate(const Conditioning& cond, const std::vector<StreamSpan>& spans, const UniformFn& uniform,
                const std::vector<float*>& out, const ProgressFn& progress, bool multi_vector = false) const {
    int64_t longest = 0;
    for (const auto& s : spans) longest = s.length > longest ? s.length : longest;
    if (spans.empty()) return;
    auto state = start_generation(static_cast<int>(spans.size()));
    state->multi_vector = multi_vector;
    continue_generation(cond, spans, *state, longest, uniform, out, progress);
  }

  // Threads that can share the generation of one utterance: 1 unless a
  // family's step splits over independent streams (subscale's sub-tensors).
  virtual int utterance_threads() const { return 1; }
  // One whole utterance of n_samples from a zero state, `threads` threads (at
  // most utterance_threads()) working on it; the same samples for any threads.
  virtual void generate_utterance(const Conditioning& cond, int64_t n_samples, const UniformFn& uniform, float* out,
                                  const ProgressFn& progress, int threads) const {
    (void)threads;
    generate(cond, {{0, n_samples}}, uniform, {out}, progress);
  }

  // Frames past a sample's own frame that its conditioning depends on: a
  // stream can emit the samples of frame f once frame f + lookahead is known.
  virtual int lookahead_frames() const = 0;

  // Teacher forcing on real audio (n_samples values in [-1, 1]): step t is
  // fed audio[t-1] (0 at t = 0) as the model would see its own sample (so
  // quantised / companded for softmax heads). Writes n_samples x n_classes()
  // logits where logits != nullptr; returns the summed -log2 P(audio[t]).
  virtual double teacher_forced(const Conditioning& cond, const float* audio, int64_t n_samples,
                                float* logits) const = 0;

  // Multiply-accumulates per generated sample in the sample loop: the
  // floor (nonzero weights) and what the kernels execute (stored block values).
  virtual int64_t loop_nonzero_macs() const = 0;
  virtual int64_t loop_stored_macs() const = 0;
  virtual std::string describe() const = 0;  // sizes, densities, blocks (JSON)
};

}  // namespace sparsewave
