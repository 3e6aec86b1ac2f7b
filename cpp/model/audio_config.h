// The config fields every model family starts with: the audio it makes and
// the mel frames it takes.
#pragma once
#include "format/json.h"

namespace sparsewave {

struct AudioConfig {
  int sample_rate = 0, hop_length = 0, n_mels = 0;

  // Reads and range-checks them from a family's JSON config, in this order.
  void read_audio_fields(const JsonValue& c) {
    sample_rate = config_int(c, "sample_rate", 1000, 384000);
    hop_length = config_int(c, "hop_length", 1, 100000);
    n_mels = config_int(c, "n_mels", 1, 1024);
  }
};

}  // namespace sparsewave
