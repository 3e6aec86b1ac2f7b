#include "model/fatchord_config.h"

#include <stdexcept>

namespace sparsewave {

FatchordConfig FatchordConfig::from_json(const JsonValue& c) {
  FatchordConfig k;
  k.read_audio_fields(c);
  k.read_sampling_fields(c);
  k.pad = config_int(c, "pad", 0, 64);
  long long product = 1;
  for (const auto& f : c.at("upsample_factors").as_array("config 'upsample_factors'")) {
    const long long s = f.as_integer("an upsample factor");
    if (s < 1 || s > 100000) throw std::invalid_argument("config 'upsample_factors' holds an invalid factor");
    product *= s;
    if (product > 100000) throw std::invalid_argument("config 'upsample_factors' multiply to more than 100000");
    k.upsample_factors.push_back(static_cast<int>(s));
  }
  if (product != k.hop_length)
    throw std::invalid_argument("config 'upsample_factors' multiply to " + std::to_string(product) +
                                " but 'hop_length' is " + std::to_string(k.hop_length));
  const auto& ks = c.at("upsample_kernel_sizes").as_array("config 'upsample_kernel_sizes'");
  if (ks.size() != k.upsample_factors.size())
    throw std::invalid_argument("config 'upsample_kernel_sizes' needs one entry per upsample factor");
  for (const auto& v : ks) {
    const long long n = v.as_integer("an upsample kernel size");
    if (n < 1 || n > 4097 || n % 2 == 0) throw std::invalid_argument("upsample kernel sizes must be odd, 1..4097");
    k.upsample_kernel_sizes.push_back(static_cast<int>(n));
  }
  k.res_blocks = config_int(c, "res_blocks", 0, 64);
  k.compute_dims = config_int(c, "compute_dims", 1, 4096);
  k.res_out_dims = config_int(c, "res_out_dims", 1, 4096);
  if (c.has("bn_eps")) {
    k.bn_eps = static_cast<float>(c.at("bn_eps").as_number("config 'bn_eps'"));
    if (!(k.bn_eps > 0 && k.bn_eps < 1)) throw std::invalid_argument("config 'bn_eps' must be in (0, 1)");
  }
  k.rnn_dims = config_int(c, "rnn_dims", 1, 8192);
  k.fc_dims = config_int(c, "fc_dims", 1, 8192);
  k.n_rnn = config_int(c, "n_rnn", 1, 2);
  for (const auto& n : c.at("fc_names").as_array("config 'fc_names'")) k.fc_names.push_back(n.as_string("an fc name"));
  if (k.fc_names.size() < 2 || k.fc_names.size() > 3)
    throw std::invalid_argument("config 'fc_names' must list 2 or 3 layers");
  if (c.has("aux_slices")) {
    for (const auto& [consumer, range] : c.at("aux_slices").as_object("config 'aux_slices'")) {
      bool known = consumer == "I" || (consumer == "rnn2" && k.n_rnn == 2);
      for (const auto& n : k.fc_names) known |= consumer == n;
      if (!known) throw std::invalid_argument("config 'aux_slices' names unknown consumer '" + consumer + "'");
      const auto& r = range.as_array("aux slice of '" + consumer + "'");
      if (r.size() != 2) throw std::invalid_argument("aux slice of '" + consumer + "' must be [start, stop)");
      const long long a = r[0].as_integer("aux slice start"), b = r[1].as_integer("aux slice stop");
      if (a < 0 || b < a || b > k.res_out_dims)
        throw std::invalid_argument("aux slice of '" + consumer + "' is outside [0, res_out_dims]");
      k.aux_slices[consumer] = {static_cast<int>(a), static_cast<int>(b)};
    }
  }
  k.head = c.at("head").as_string("config 'head'");
  if (k.head == "softmax") {
    k.bits = config_int(c, "bits", 1, 16);
    k.n_classes = 1 << k.bits;
    if (c.has("mu_law")) k.mu_law = c.at("mu_law").as_bool("config 'mu_law'");
  } else if (k.head == "mol") {
    k.mol_n_mix = config_int(c, "mol_n_mix", 1, 1024);
    k.n_classes = 3 * k.mol_n_mix;
    if (c.has("mol_log_scale_min"))
      k.mol_log_scale_min = static_cast<float>(c.at("mol_log_scale_min").as_number("config 'mol_log_scale_min'"));
  } else {
    throw std::invalid_argument("config 'head' must be \"softmax\" or \"mol\", got \"" + k.head + "\"");
  }
  if (c.has("n_classes") && c.at("n_classes").as_integer("config 'n_classes'") != k.n_classes)
    throw std::invalid_argument("config 'n_classes' disagrees with the head (expected " + std::to_string(k.n_classes) + ")");
  return k;
}

int FatchordConfig::aux_width(const std::string& consumer) const {
  auto it = aux_slices.find(consumer);
  return it == aux_slices.end() ? 0 : it->second.second - it->second.first;
}
int FatchordConfig::aux_start(const std::string& consumer) const {
  auto it = aux_slices.find(consumer);
  return it == aux_slices.end() ? 0 : it->second.first;
}

}  // namespace sparsewave
