#include "model/sampling_config.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "kernels/elementwise.h"

namespace sparsewave {
namespace {

double checked(double r, const std::string& what) {
  if (!(r >= 0.0 && r < 1.0))  // also refuses NaN
    throw std::invalid_argument(what + " must be in [0, 1) (a probability ratio to the most likely class; 0 cuts " +
                                "nothing), got " + std::to_string(r));
  return r;
}

}  // namespace

void SamplingConfig::read_sampling_fields(const JsonValue& c) {
  if (!c.has("sampling")) return;
  const JsonValue& s = c.at("sampling");
  s.as_object("config 'sampling'");
  if (s.has("tail_cut")) tail_cut = checked(s.at("tail_cut").as_number("config sampling 'tail_cut'"), "config sampling 'tail_cut'");
}

double effective_tail_cut(const SamplingConfig& file, const std::optional<double>& load_option) {
  return load_option ? checked(*load_option, "tail_cut") : file.tail_cut;
}

float tail_cut_logit_gap(double tail_cut) {
  if (tail_cut <= 0.0) return kNegligibleLogit;
  return std::min(kNegligibleLogit, static_cast<float>(-std::log(tail_cut)));
}

}  // namespace sparsewave
