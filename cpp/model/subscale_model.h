// Subscale WaveRNN ("Efficient Neural Audio Synthesis", section 5; our
// scheme in docs/subscale.md): the utterance is folded into B interleaved
// sub-tensors that the dual-softmax cell generates together, one sample each
// per step after a start-up ramp, so every weight loaded serves up to B
// multiply-accumulates. A context stack over the already generated samples
// (model/context_stack.h) adds one more term into each sub-tensor's gates.
// Fused Subscale (config fused): pairs of sub-tensors share one state of four
// parts (coarse and fine of each member), so each state vector emits two
// samples per step and R runs once per pair.
//
// Whole utterances only: sub-tensor 0 runs (B - 1) * F * B samples ahead of
// sub-tensor B - 1, so this family cannot stream.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "model/context_stack.h"
#include "model/dual_softmax_model.h"
#include "model/subscale_config.h"

namespace sparsewave {

class SubscaleModel final : public DualSoftmaxModel {
 public:
  SubscaleModel(const SafetensorsFile& file, const SubscaleConfig& config, const LoadOptions& options = {});

  std::string family() const override { return "subscale"; }
  bool streams() const override { return false; }
  void continue_generation(const Conditioning& cond, const std::vector<StreamSpan>& spans, GenerationState& state,
                           int64_t n_steps, const UniformFn& uniform, const std::vector<float*>& out,
                           const ProgressFn& progress) const override;
  int utterance_threads() const override { return s_.groups(); }
  void generate_utterance(const Conditioning& cond, int64_t n_samples, const UniformFn& uniform, float* out,
                          const ProgressFn& progress, int threads) const override;
  double teacher_forced(const Conditioning& cond, const float* audio, int64_t n_samples,
                        float* logits) const override;
  std::string describe() const override;

 private:
  // Generates one utterance piece of `length` samples whose sample t reads
  // conditioning row start + t (a fused pair: its first member's row), the
  // groups of sub-tensors split over `threads` threads. pick(b, t, half, logits, scratch) returns the byte of sample t
  // (half 0 coarse, 1 fine; called on the thread owning b); done(b, t, c, f,
  // logits_c, logits_f) sees each finished sample on the calling thread (t
  // may reach the folded padding, T * B > length); false from
  // progress(steps, n_steps) cancels.
  template <class Pick, class Done, class Progress>
  bool run_utterance(const Data& d, int64_t start, int64_t length, int threads, Pick pick, Done done,
                     Progress progress) const;
  // A span drawn from uniform(stream, 2 t + half); false when progress cancelled.
  bool generate_span(const Data& d, const StreamSpan& span, int stream, const UniformFn& uniform, float* y,
                     const ProgressFn& progress, int64_t done_before, int threads) const;

  SubscaleConfig s_;
  ContextStack stack_;
  BlockSparseMatrix proj_;  // ctx.proj.weight, 3N x E, gate rows in the cell's internal order
};

}  // namespace sparsewave
