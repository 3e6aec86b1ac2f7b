// Which uniform number each draw uses: the one rule behind synthesize()
// (unbatched and folded) and Stream, so that all of them draw the numbers
// the same seed promises. Counter streams are numbered 0 for the whole
// utterance (unbatched synthesis, Stream) and f + 1 for fold f.
#pragma once
#include <cstdint>

#include "model/model.h"
#include "numerics/rng.h"

namespace sparsewave {

// Draws for the whole utterance: given[i] when the caller passes uniforms
// (given != null), else counter stream 0 of seed.
inline UniformFn whole_utterance_uniforms(uint64_t seed, const float* given = nullptr) {
  return [seed, given](int, int64_t i) {
    return given ? given[i] : counter_uniform(seed, 0, static_cast<uint64_t>(i));
  };
}

// Draws for folds first_fold, first_fold + 1, ... generated together (model
// stream s is fold first_fold + s): given[fold * per_fold + i] when the
// caller passes uniforms, else counter stream fold + 1 of seed.
inline UniformFn fold_uniforms(uint64_t seed, int first_fold, const float* given = nullptr, int64_t per_fold = 0) {
  return [seed, first_fold, given, per_fold](int s, int64_t i) {
    const int fold = first_fold + s;
    return given ? given[static_cast<int64_t>(fold) * per_fold + i]
                 : counter_uniform(seed, static_cast<uint64_t>(fold) + 1, static_cast<uint64_t>(i));
  };
}

}  // namespace sparsewave
