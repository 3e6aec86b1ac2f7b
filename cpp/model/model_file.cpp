#include "model/model_file.h"

#include <cmath>
#include <iomanip>
#include <sstream>
#include <stdexcept>

#include "format/json.h"
#include "format/safetensors.h"
#include "model/dual_softmax_model.h"
#include "model/fatchord_model.h"
#include "model/subscale_model.h"

namespace sparsewave {

namespace {

// Every family this build reads, by its config "family".
std::unique_ptr<Model> construct_family(const SafetensorsFile& file, const JsonValue& config,
                                        const LoadOptions& options) {
  const std::string family = config.at("family").as_string("config 'family'");
  if (family == "fatchord") return std::make_unique<FatchordModel>(file, FatchordConfig::from_json(config), options);
  if (family == "dual_softmax")
    return std::make_unique<DualSoftmaxModel>(file, DualSoftmaxConfig::from_json(config), options);
  if (family == "subscale") return std::make_unique<SubscaleModel>(file, SubscaleConfig::from_json(config), options);
  throw std::invalid_argument("unknown model family '" + family + "' (supported: fatchord, dual_softmax, subscale)");
}

// Config "preemphasis": finite and 0 <= a < 1 as the float the engine uses (0.99999999 rounds
// to 1.0f, whose de-emphasis is an integrator that never forgets).
float checked_preemphasis(double a) {
  if (!std::isfinite(a) || a < 0.0 || !(static_cast<float>(a) < 1.0f)) {
    std::ostringstream got;
    got << std::setprecision(17) << a;
    throw std::invalid_argument("config 'preemphasis' must be in [0, 1) and below 1 as a float32, got " + got.str());
  }
  return static_cast<float>(a);
}

}  // namespace

ModelFile load_model(const std::string& path, const LoadOptions& options) {
  SafetensorsFile file(path);
  const auto& meta = file.metadata();
  auto get = [&](const std::string& key) -> const std::string& {
    auto it = meta.find(key);
    if (it == meta.end())
      throw std::invalid_argument("'" + path + "' is not a sparsewave weight file: its metadata has no '" + key +
                                  "' (convert checkpoints with `sparsewave convert`)");
    return it->second;
  };
  if (get("format") != "sparsewave")
    throw std::invalid_argument("'" + path + "' is a safetensors file but not a sparsewave model (format '" +
                                get("format") + "')");
  ModelFile m;
  const std::string& version = get("format_version");
  if (version.empty() || version.size() > 6 || version.find_first_not_of("0123456789") != std::string::npos)
    throw std::invalid_argument("'" + path + "' has an invalid format_version '" + version + "'");
  m.format_version = std::stoi(version);
  if (m.format_version > kFormatVersion)
    throw std::invalid_argument("'" + path + "' uses format version " + version + ", newer than this sparsewave (" +
                                std::to_string(kFormatVersion) + "); upgrade sparsewave to load it");
  if (m.format_version < 1) throw std::invalid_argument("'" + path + "' has format_version 0");
  m.config_json = get("config");
  JsonValue config;
  try {
    config = JsonValue::parse(m.config_json);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument("'" + path + "' has a corrupt config: " + e.what());
  }
  try {
    m.model = construct_family(file, config, options);
    if (config.has("preemphasis"))
      m.preemphasis = checked_preemphasis(config.at("preemphasis").as_number("config 'preemphasis'"));
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    // Config problems ("missing key 'rnn_dims'") say they are about the config.
    const bool from_config_lookup = what.rfind("missing key", 0) == 0 || what.rfind("expected an object", 0) == 0;
    throw std::invalid_argument("'" + path + "': " + (from_config_lookup ? "config: " : "") + what);
  }
  return m;
}

}  // namespace sparsewave
