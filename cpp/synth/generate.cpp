#include "synth/generate.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <string>
#include <thread>

#include "synth/uniforms.h"

namespace sparsewave {

int max_useful_threads() {
  const unsigned n = std::thread::hardware_concurrency();  // 0 when unknown
  return n == 0 ? 1 : static_cast<int>(std::min(n, 1024u));
}

FoldPlan plan_model_folds(const Model& model, int64_t total, int64_t target, int64_t overlap) {
  const int sr = model.sample_rate();
  return plan_folds(total, target > 0 ? target : sr / 2, overlap >= 0 ? overlap : sr / 40);
}

std::vector<float> generate_unbatched(const Model& m, const Conditioning& cond, const SynthesisOptions& o) {
  const int64_t total = cond.n_samples;
  const int64_t per = m.uniforms_per_sample();
  if (o.uniforms && o.n_uniforms < total * per)
    throw std::invalid_argument("uniforms has " + std::to_string(o.n_uniforms) + " values, need " +
                                std::to_string(total * per));
  std::vector<float> out(static_cast<std::size_t>(total));
  std::atomic<bool> cancelled{false};
  ProgressFn progress;
  if (o.progress) progress = [&](int64_t n) { return o.progress(n) || (cancelled = true, false); };
  const int threads = std::max(1, std::min({o.threads, m.utterance_threads(), max_useful_threads()}));
  m.generate_utterance(cond, total, whole_utterance_uniforms(o.seed, o.uniforms), out.data(), progress, threads);
  if (cancelled) throw SynthesisCancelled();
  return out;
}

std::vector<float> generate_folded(const Model& m, const Conditioning& cond, const SynthesisOptions& o) {
  const int64_t total = cond.n_samples;
  const int64_t per = m.uniforms_per_sample();
  const FoldPlan plan = plan_model_folds(m, total, o.target, o.overlap);
  const int n_folds = static_cast<int>(plan.spans.size());
  const int64_t fold_len = plan.spans[0].length;
  if (o.uniforms && o.n_uniforms < static_cast<int64_t>(n_folds) * fold_len * per)
    throw std::invalid_argument("uniforms has " + std::to_string(o.n_uniforms) + " values, need " +
                                std::to_string(n_folds) + " folds x " + std::to_string(fold_len * per));
  std::vector<std::vector<float>> folds(n_folds, std::vector<float>(static_cast<std::size_t>(fold_len)));
  const int threads = std::max(1, std::min({o.threads, n_folds, max_useful_threads()}));
  std::atomic<bool> cancelled{false};
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
      int64_t mine = 0;
      ProgressFn progress = [&](int64_t n) {
        const int64_t all = done.fetch_add(n - mine) + (n - mine);
        mine = n;
        if (cancelled) return false;
        if (o.progress && !o.progress(static_cast<int64_t>(all * to_output))) cancelled = true;
        return !cancelled;
      };
      // Several folds: the multi-vector kernel for every group, so that a
      // group of one (threads splitting 3 folds 1 + 2) sums like the rest.
      m.generate(cond, spans, fold_uniforms(o.seed, begin, o.uniforms, fold_len * per), outs, progress, n_folds > 1);
    } catch (...) {
      errors[w] = std::current_exception();
      cancelled = true;
    }
  };
  // The calling thread does a share of the work too, so callbacks that must
  // run on it (Python's signal checks) keep running. Where the system will
  // not start another thread (memory or process limits), the calling thread
  // also takes the shares no thread could: same output, later.
  std::vector<std::thread> pool;
  int started = 1;
  for (; started < threads; ++started) {
    try {
      pool.emplace_back(work, started);
    } catch (...) {
      break;
    }
  }
  work(0);
  for (int w = started; w < threads; ++w) work(w);
  for (auto& t : pool) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
  if (cancelled) throw SynthesisCancelled();
  // Folds are joined in the model's (pre-emphasised) domain.
  return crossfade_folds(plan, folds);
}

}  // namespace sparsewave
