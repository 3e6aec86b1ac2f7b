// The sample-loop drivers behind Vocoder::synthesize: one stream over the
// whole utterance, or overlapping folds generated as a batch on a pool of
// threads and crossfaded. Both return the model's own domain (before any
// de-emphasis) and honour progress callbacks and cancellation.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "model/model.h"
#include "synth/folding.h"

namespace sparsewave {

struct SynthesisOptions {
  uint64_t seed = 0;
  bool batched = false;
  int64_t target = 0;   // samples per fold (batched); 0 = half a second
  int64_t overlap = -1; // samples shared by neighbouring folds; -1 = 25 ms
  int threads = 1;       // at most max_useful_threads() run
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

// Threads batched synthesis uses at most: the CPUs this machine has (more
// only share them, at the cost of memory for stacks and workspaces).
int max_useful_threads();

// The folds of an utterance of `total` samples; target <= 0 and overlap < 0
// pick the defaults (half a second, 25 ms at the model's sample rate).
FoldPlan plan_model_folds(const Model& model, int64_t total, int64_t target, int64_t overlap);

// cond->n_samples samples from one stream (cond must cover at least one).
std::vector<float> generate_unbatched(const Model& model, const Conditioning& cond, const SynthesisOptions& options);

// The same from folds (plan_model_folds), options.threads at a time.
std::vector<float> generate_folded(const Model& model, const Conditioning& cond, const SynthesisOptions& options);

}  // namespace sparsewave
