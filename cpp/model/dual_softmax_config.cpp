#include "model/dual_softmax_config.h"

#include <stdexcept>
#include <string>

namespace sparsewave {

DualSoftmaxConfig DualSoftmaxConfig::from_json(const JsonValue& c) {
  DualSoftmaxConfig k;
  k.read_audio_fields(c);
  k.read_sampling_fields(c);
  k.hidden = config_int(c, "hidden", 2, 8192);
  if (k.hidden % 2) throw std::invalid_argument("config 'hidden' must be even (coarse and fine halves)");
  k.output_hidden = c.has("output_hidden") ? config_int(c, "output_hidden", 1, 8192) : k.hidden / 2;
  const std::string up = c.has("upsample") ? c.at("upsample").as_string("config 'upsample'") : "repeat";
  if (up == "repeat") {
    k.upsample_kernel = 0;
  } else if (up == "conv") {
    k.upsample_kernel = config_int(c, "upsample_kernel", 1, 4097);
    if (k.upsample_kernel % 2 == 0) throw std::invalid_argument("config 'upsample_kernel' must be odd");
  } else {
    throw std::invalid_argument("config 'upsample' must be \"repeat\" or \"conv\", got \"" + up + "\"");
  }
  return k;
}

}  // namespace sparsewave
