#include "model/subscale_config.h"

#include <stdexcept>

namespace sparsewave {

SubscaleConfig SubscaleConfig::from_json(const JsonValue& c) {
  SubscaleConfig k;
  k.cell = DualSoftmaxConfig::from_json(c);
  k.sub_tensors = config_int(c, "sub_tensors", 1, 64);
  k.horizon = config_int(c, "horizon", 1, 4096);
  k.context_channels = config_int(c, "context_channels", 1, 1024);
  k.context_layers = config_int(c, "context_layers", 0, 16);
  k.context_features = config_int(c, "context_features", 1, 256);
  if (c.has("fused") && c.at("fused").as_bool("config 'fused'"))
    throw std::invalid_argument("config 'fused': Fused Subscale is not supported by this sparsewave yet");
  return k;
}

}  // namespace sparsewave
