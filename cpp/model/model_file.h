// Opening a weight file as a model: the sparsewave format checks (metadata
// "format", "format_version", "config") and the family registry (config
// "family" -> the family's constructor).
#pragma once
#include <memory>
#include <string>

#include "model/model.h"

namespace sparsewave {

// The newest weight-file format this build reads.
constexpr int kFormatVersion = 1;

struct ModelFile {
  std::unique_ptr<Model> model;
  std::string config_json;  // the file's config, as stored
  int format_version = 0;
  // Config "preemphasis" (0 = none): the model samples pre-emphasised audio.
  float preemphasis = 0.0f;
};

// Throws std::invalid_argument (bad/corrupt file, unsupported version or
// config) or IoError (cannot open/read, format/io_error.h); every message names path.
ModelFile load_model(const std::string& path, const LoadOptions& options = {});

}  // namespace sparsewave
