#include "model/subscale_config.h"

#include <cstdint>
#include <stdexcept>
#include <string>

namespace sparsewave {

SubscaleConfig SubscaleConfig::from_json(const JsonValue& c) {
  SubscaleConfig k;
  k.cell = DualSoftmaxConfig::from_json(c);
  k.sub_tensors = config_int(c, "sub_tensors", 1, 64);
  k.horizon = config_int(c, "horizon", 1, 4096);
  k.context_channels = config_int(c, "context_channels", 1, 1024);
  k.context_layers = config_int(c, "context_layers", 0, 16);
  k.context_features = config_int(c, "context_features", 1, 256);
  // The stack keeps 2^l columns of C floats per layer: bound that history (a hostile file must
  // not make generation allocate gigabytes).
  const int64_t history = (int64_t{1} << k.context_layers) * k.context_channels;
  if (history > kMaxContextHistory)
    throw std::invalid_argument("config: a context stack of 2^context_layers x context_channels = " +
                                std::to_string(history) + " floats of history is more than " +
                                std::to_string(kMaxContextHistory));
  k.fused = c.has("fused") && c.at("fused").as_bool("config 'fused'");
  if (k.fused) {
    // Pairs of sub-tensors share a state of four parts (c, f of each member).
    if (k.sub_tensors % 2) throw std::invalid_argument("config 'fused': sub_tensors must be even (pairs)");
    if (k.cell.hidden % 4) throw std::invalid_argument("config 'fused': hidden must be a multiple of 4 (four parts)");
    k.cell.parts = 4;
  }
  return k;
}

}  // namespace sparsewave
