// Concurrency test (ctest; .ci/sanitizers.sh runs it under ThreadSanitizer):
//   1. one Vocoder shared by threads that synthesize at the same time
//      (unbatched, and batched with its own thread pool) returns, bit for
//      bit, what each call returns alone;
//   2. one Stream fed by a pushing thread, drained by a pulling thread and
//      polled by a third returns what synthesize returns with its seed;
//   3. one Stream pushed by two threads at once (every frame the same, so
//      the interleaving cannot change the utterance) while a third pulls.
// A family that splits one utterance over threads (subscale) also runs
// unbatched calls on two threads each; one that cannot stream skips 2 and 3.
// Usage: test_concurrency MODEL.sw [MODEL.sw...]
#include <atomic>
#include <cmath>
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "api/stream.h"
#include "api/vocoder.h"

using sparsewave::Stream;
using sparsewave::SynthesisOptions;
using sparsewave::Vocoder;

namespace {

int g_failures = 0;

void check(bool ok, const std::string& what) {
  std::printf("%s: %s\n", ok ? "ok  " : "FAIL", what.c_str());
  if (!ok) ++g_failures;
}

// frames x n_mels of smooth, speech-like log-mel values.
std::vector<float> test_mels(int64_t frames, int n_mels) {
  std::vector<float> m(static_cast<std::size_t>(frames) * n_mels);
  for (int64_t f = 0; f < frames; ++f)
    for (int k = 0; k < n_mels; ++k)
      m[f * n_mels + k] = -2.0f + 1.5f * std::sin(0.3f * f + 0.2f * k) - 0.02f * k;
  return m;
}

// Runs fn(i) on n threads at once; an exception fails the check.
template <class Fn>
void run_threads(int n, const std::string& what, Fn fn) {
  std::vector<std::thread> pool;
  std::atomic<int> errors{0};
  for (int i = 0; i < n; ++i)
    pool.emplace_back([&, i] {
      try {
        fn(i);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: thread %d threw: %s\n", what.c_str(), i, e.what());
        ++errors;
      }
    });
  for (auto& t : pool) t.join();
  check(errors == 0, what + ": no thread threw");
}

SynthesisOptions options_for(const Vocoder& v, int i) {
  SynthesisOptions o;
  o.seed = 100 + i;
  if (i % 2) {  // batched, two folds at a time on its own threads
    o.batched = true;
    o.target = 700;
    o.overlap = 50;
    o.threads = 2;
  } else if (i == 2 && v.model().utterance_threads() > 1) {  // one utterance on two threads
    o.threads = 2;
  }
  return o;
}

void shared_vocoder(const Vocoder& v, const std::vector<float>& mels, int64_t frames) {
  constexpr int kThreads = 4;
  std::vector<std::vector<float>> alone(kThreads), together(kThreads);
  for (int i = 0; i < kThreads; ++i) alone[i] = v.synthesize(mels.data(), frames, options_for(v, i));
  run_threads(kThreads, "shared Vocoder",
              [&](int i) { together[i] = v.synthesize(mels.data(), frames, options_for(v, i)); });
  for (int i = 0; i < kThreads; ++i)
    check(!alone[i].empty() && together[i] == alone[i],
          "shared Vocoder: call " + std::to_string(i) + " equals the same call alone");
}

// Pulls from s in chunks of 97 until `total` samples came out.
std::vector<float> drain(Stream& s, int64_t total) {
  std::vector<float> out;
  while (static_cast<int64_t>(out.size()) < total) {
    const auto got = s.pull(97);
    if (got.empty()) std::this_thread::yield();
    out.insert(out.end(), got.begin(), got.end());
  }
  return out;
}

void shared_stream(const Vocoder& v, const std::vector<float>& mels, int64_t frames) {
  const int n_mels = v.model().n_mels();
  const int64_t total = frames * v.model().hop_length();
  SynthesisOptions o;
  o.seed = 7;
  const std::vector<float> expected = v.synthesize(mels.data(), frames, o);

  Stream s(v, o.seed);
  std::vector<float> pulled;
  std::atomic<bool> done{false};
  run_threads(3, "Stream: push / pull / available", [&](int role) {
    if (role == 0) {
      for (int64_t f = 0; f < frames; ++f) s.push(mels.data() + f * n_mels, 1);
      s.finish();
    } else if (role == 1) {
      pulled = drain(s, total);
      done = true;
    } else {
      while (!done) {
        if (s.available() < 0) throw std::runtime_error("available() < 0");
        std::this_thread::yield();
      }
    }
  });
  check(pulled == expected, "Stream fed and drained by two threads equals synthesize");
}

void two_pushers(const Vocoder& v, int64_t frames) {
  const int n_mels = v.model().n_mels();
  const std::vector<float> frame = test_mels(1, n_mels);
  std::vector<float> all;
  for (int64_t f = 0; f < 2 * frames; ++f) all.insert(all.end(), frame.begin(), frame.end());
  SynthesisOptions o;
  o.seed = 11;
  const std::vector<float> expected = v.synthesize(all.data(), 2 * frames, o);

  Stream s(v, o.seed);
  std::vector<float> pulled;
  run_threads(2, "Stream: two pushers and a puller", [&](int role) {
    if (role == 0) {
      run_threads(2, "Stream: two pushers", [&](int) {
        for (int64_t f = 0; f < frames; ++f) s.push(frame.data(), 1);
      });
      s.finish();
    } else {
      pulled = drain(s, 2 * frames * v.model().hop_length());
    }
  });
  check(pulled == expected, "Stream pushed by two threads equals synthesize of all its frames");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s MODEL.sw [MODEL.sw...]\n", argv[0]);
    return 2;
  }
  for (int a = 1; a < argc; ++a) {
    std::printf("model %s\n", argv[a]);
    const auto v = Vocoder::load(argv[a]);
    // About 1,500 samples per call: a few folds, cheap even under TSan.
    const int64_t frames = 1 + 1500 / v->model().hop_length();
    const auto mels = test_mels(frames, v->model().n_mels());
    shared_vocoder(*v, mels, frames);
    if (!v->model().streams()) {
      std::printf("skip: %s models cannot stream\n", v->model().family().c_str());
      continue;
    }
    shared_stream(*v, mels, frames);
    two_pushers(*v, frames);
  }
  std::printf("%d failures\n", g_failures);
  return g_failures == 0 ? 0 : 1;
}
