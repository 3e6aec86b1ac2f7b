#include "vocoder.h"

#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <thread>

#include "../model/fatchord_config.h"
#include "../model/dual_softmax_model.h"
#include "../model/fatchord_model.h"
#include "../model/json.h"
#include "../model/safetensors.h"
#include "../numerics/rng.h"
#include "../synth/emphasis.h"
#include "../synth/folding.h"

namespace sparsewave {

std::unique_ptr<Vocoder> Vocoder::load(const std::string& path, const LoadOptions& options) {
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
  auto v = std::make_unique<Vocoder>();
  const std::string& version = get("format_version");
  if (version.empty() || version.size() > 6 || version.find_first_not_of("0123456789") != std::string::npos)
    throw std::invalid_argument("'" + path + "' has an invalid format_version '" + version + "'");
  v->format_version_ = std::stoi(version);
  if (v->format_version_ > kFormatVersion)
    throw std::invalid_argument("'" + path + "' uses format version " + version + ", newer than this sparsewave (" +
                                std::to_string(kFormatVersion) + "); upgrade sparsewave to load it");
  if (v->format_version_ < 1) throw std::invalid_argument("'" + path + "' has format_version 0");
  v->config_json_ = get("config");
  JsonValue config;
  try {
    config = JsonValue::parse(v->config_json_);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument("'" + path + "' has a corrupt config: " + e.what());
  }
  try {
    const std::string family = config.at("family").as_string("config 'family'");
    if (family == "fatchord")
      v->model_ = std::make_unique<FatchordModel>(file, FatchordConfig::from_json(config), options);
    else if (family == "dual_softmax")
      v->model_ = std::make_unique<DualSoftmaxModel>(file, DualSoftmaxConfig::from_json(config), options);
    else
      throw std::invalid_argument("unknown model family '" + family + "' (supported: fatchord, dual_softmax)");
    if (config.has("preemphasis"))
      v->preemphasis_ = checked_preemphasis(config.at("preemphasis").as_number("config 'preemphasis'"));
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    // Config problems ("missing key 'rnn_dims'") say they are about the config.
    const bool from_config_lookup = what.rfind("missing key", 0) == 0 || what.rfind("expected an object", 0) == 0;
    throw std::invalid_argument("'" + path + "': " + (from_config_lookup ? "config: " : "") + what);
  }
  return v;
}

std::vector<StreamSpan> Vocoder::fold_spans(int64_t frames, int64_t target, int64_t overlap) const {
  const int sr = model_->sample_rate();
  if (target <= 0) target = sr / 2;
  if (overlap < 0) overlap = sr / 40;
  return plan_folds(frames * model_->hop_length(), target, overlap).spans;
}

std::vector<float> Vocoder::synthesize(const float* mels, int64_t frames, const SynthesisOptions& o) const {
  const Model& m = *model_;
  const auto cond = m.condition(mels, frames);
  const int64_t total = cond->n_samples;
  if (total == 0) return {};
  const uint64_t seed = o.seed;
  const float* given = o.uniforms;
  const int64_t per = m.uniforms_per_sample();
  std::atomic<bool> cancelled{false};

  if (!o.batched) {
    if (given && o.n_uniforms < total * per)
      throw std::invalid_argument("uniforms has " + std::to_string(o.n_uniforms) + " values, need " +
                                  std::to_string(total * per));
    std::vector<float> out(static_cast<std::size_t>(total));
    UniformFn u = [&](int, int64_t i) { return given ? given[i] : counter_uniform(seed, 0, static_cast<uint64_t>(i)); };
    ProgressFn progress;
    if (o.progress) progress = [&](int64_t n) { return o.progress(n) || (cancelled = true, false); };
    m.generate(*cond, {{0, total}}, u, {out.data()}, progress);
    if (cancelled) throw SynthesisCancelled();
    deemphasize_output(out);
    return out;
  }

  const int sr = m.sample_rate();
  const FoldPlan plan = plan_folds(total, o.target > 0 ? o.target : sr / 2, o.overlap >= 0 ? o.overlap : sr / 40);
  const int n_folds = static_cast<int>(plan.spans.size());
  const int64_t fold_len = plan.spans[0].length;
  if (given && o.n_uniforms < static_cast<int64_t>(n_folds) * fold_len * per)
    throw std::invalid_argument("uniforms has " + std::to_string(o.n_uniforms) + " values, need " +
                                std::to_string(n_folds) + " folds x " + std::to_string(fold_len * per));
  std::vector<std::vector<float>> folds(n_folds, std::vector<float>(static_cast<std::size_t>(fold_len)));
  const int threads = std::max(1, std::min(o.threads, n_folds));
  std::atomic<int64_t> done{0};
  // Progress is reported in output samples: fold steps scaled to the utterance.
  const double to_output = static_cast<double>(total) / (static_cast<double>(n_folds) * fold_len);
  std::vector<std::exception_ptr> errors(threads);
  auto work = [&](int w) {
    try {
      // Contiguous groups of folds per thread; each group runs batched.
      const int begin = n_folds * w / threads, end = n_folds * (w + 1) / threads;
      std::vector<StreamSpan> spans(plan.spans.begin() + begin, plan.spans.begin() + end);
      std::vector<float*> outs;
      for (int f = begin; f < end; ++f) outs.push_back(folds[f].data());
      UniformFn u = [&, begin](int s, int64_t i) {
        const int fold = begin + s;
        return given ? given[static_cast<int64_t>(fold) * fold_len * per + i]
                     : counter_uniform(seed, static_cast<uint64_t>(fold) + 1, static_cast<uint64_t>(i));
      };
      int64_t mine = 0;
      ProgressFn progress = [&](int64_t n) {
        const int64_t all = done.fetch_add(n - mine) + (n - mine);
        mine = n;
        if (cancelled) return false;
        if (o.progress && !o.progress(static_cast<int64_t>(all * to_output))) cancelled = true;
        return !cancelled;
      };
      m.generate(*cond, spans, u, outs, progress);
    } catch (...) {
      errors[w] = std::current_exception();
      cancelled = true;
    }
  };
  // The calling thread does a share of the work too, so callbacks that must
  // run on it (Python's signal checks) keep running.
  std::vector<std::thread> pool;
  for (int w = 1; w < threads; ++w) pool.emplace_back(work, w);
  work(0);
  for (auto& t : pool) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
  if (cancelled) throw SynthesisCancelled();
  // Folds are joined in the model's (pre-emphasised) domain, then de-emphasised as one signal.
  std::vector<float> out = crossfade_folds(plan, folds);
  deemphasize_output(out);
  return out;
}

void Vocoder::deemphasize_output(std::vector<float>& out) const {
  if (preemphasis_ == 0.0f) return;
  double state = 0.0;
  deemphasize(out.data(), static_cast<int64_t>(out.size()), preemphasis_, &state);
}

double Vocoder::teacher_forced(const float* mels, int64_t frames, const float* audio, int64_t n, float* logits) const {
  const auto cond = model_->condition(mels, frames);
  if (n > cond->n_samples)
    throw std::invalid_argument("audio has " + std::to_string(n) + " samples but the mels cover only " +
                                std::to_string(cond->n_samples));
  if (preemphasis_ == 0.0f) return model_->teacher_forced(*cond, audio, n, logits);
  std::vector<float> emphasised(static_cast<std::size_t>(std::max<int64_t>(n, 0)));
  preemphasize(audio, n, preemphasis_, emphasised.data());
  return model_->teacher_forced(*cond, emphasised.data(), n, logits);
}

}  // namespace sparsewave
