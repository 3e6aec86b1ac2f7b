// How a softmax head draws: the tail cut. Classes less likely than
// tail_cut times the most likely class are never drawn (the draw is from the
// rest, renormalised). Cutting the long tail of a 256- or 1,024-way softmax
// removes the rare far-off samples that a listener hears as background noise
// (LPCNet cuts low probabilities for the same reason). 0 cuts nothing.
#pragma once
#include <optional>

#include "format/json.h"

namespace sparsewave {

struct SamplingConfig {
  double tail_cut = 0.0;  // in [0, 1)

  // config["sampling"]["tail_cut"] when present; the rest of "sampling" is
  // free text for people (how a temperature was folded in, and so on).
  void read_sampling_fields(const JsonValue& c);
};

// The tail cut in force: the load option when given, else the file's.
// Throws std::invalid_argument outside [0, 1) or when not finite.
double effective_tail_cut(const SamplingConfig& file, const std::optional<double>& load_option);

// The largest logit gap a drawable class may have below the best one:
// -ln(tail_cut), or kNegligibleLogit (no cut a float could see) for 0.
float tail_cut_logit_gap(double tail_cut);

}  // namespace sparsewave
