// sparsewave_bench: one self-contained benchmark binary for boards and phones
// (built static for aarch64 by bench/android/build.sh; see docs/android.md).
//
//   sparsewave_bench [model.sw] [--seconds S] [--batched] [--threads N]
//                    [--isa NAME|all] [--weights float32|float16|int8]
//                    [--kernels spmv|all|none] [--seed N] [google-benchmark flags]
//
// It runs two kinds of google-benchmark cases:
//
// * Kernel microbenchmarks at the WaveRNN weight shapes, the same cases,
//   names and counters as bench_kernels (see bench_kernels.cpp), for every
//   kernel path this CPU can run. --kernels=spmv (default) registers batch 1
//   only, --kernels=all adds spmm_b8 / spmm_b16, --kernels=none skips them.
//
// * End-to-end synthesis of the model file given on the command line, through
//   the C++ Vocoder API (load once, then synthesize per iteration) on random
//   mels: frames = ceil(seconds * sample_rate / hop_length), values N(0, 1)
//   from a fixed seed. Name: e2e/<isa>/<unbatched|batched>[/t<threads>]/<S>s.
//   Counters (real time; synthesize includes conditioning and, batched,
//   folding and cross-fading):
//     samples     samples produced per call (frames * hop_length)
//     samples/s   samples per second of wall time
//     RTF         real-time factor = wall time / audio duration (< 1: faster
//                 than real time)
//     xRT         audio seconds per wall second (= 1 / RTF)
//     GFLOPS      2 * nonzero sample-loop MACs * samples / wall time
//   After the runs one plain line per case starts with "summary:" (stdout for
//   console output, stderr with --benchmark_format=json|csv so that stays
//   machine-readable).
//
// Options (ours; "--opt V" and "--opt=V" both work):
//   --seconds S       audio length per synthesize call (default 1)
//   --batched         folded synthesis (SynthesisOptions::batched)
//   --threads N       threads for --batched (default 1)
//   --isa NAME|all    kernel path for the e2e case (default: SPARSEWAVE_ISA if
//                     set, else the best this CPU runs); "all" = one case each
//   --weights T       how the sample-loop weights are stored: float32,
//                     float16 or int8 (LoadOptions::weights; default: as the
//                     file stores them, int8 for an int8 file)
//   --half-weights    the same as --weights float16
//   --kernels SET     spmv (default) | all | none
//   --seed N          seed of the mels and of the sampling (default 0)
// Everything starting with --benchmark_ goes to google-benchmark, e.g.
// --benchmark_filter='^e2e/' or --benchmark_min_time=3x (fixed iteration
// count, google-benchmark >= 1.8; 1.7 wants seconds: --benchmark_min_time=2).
//
// Exit status: 0 on success, 1 for bad arguments, 2 if the model cannot be
// loaded, 3 if a benchmark reported an error.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <unistd.h>
#include <vector>

#include "api/vocoder.h"
#include "kernels/dispatch.h"
#include "matrix/weight_type.h"
#include "kernel_cases.h"

namespace sw = sparsewave;

namespace {

const char kUsage[] =
    "usage: sparsewave_bench [model.sw] [--seconds S] [--batched] [--threads N]\n"
    "                        [--isa NAME|all] [--weights float32|float16|int8]\n"
    "                        [--half-weights] [--kernels spmv|all|none]\n"
    "                        [--seed N] [google-benchmark flags]\n"
    "Kernel microbenchmarks at WaveRNN shapes, plus end-to-end synthesis of model.sw\n"
    "(samples/s and real-time factor) when a model is given. Examples:\n"
    "  sparsewave_bench model.sw --benchmark_filter='^e2e/'\n"
    "  sparsewave_bench model.sw --batched --threads 4 --seconds 4\n"
    "  sparsewave_bench --kernels=all --benchmark_filter='/neon/'\n"
    "google-benchmark's own flags: --benchmark_filter, --benchmark_min_time,\n"
    "--benchmark_repetitions, --benchmark_format, --benchmark_out, ... (see --help\n"
    "of google-benchmark: run with --benchmark_list_tests to list the cases).\n";

struct Options {
  std::string model;
  double seconds = 1.0;
  bool batched = false;
  int threads = 1;
  std::string isa;  // empty: SPARSEWAVE_ISA or best
  std::optional<sw::WeightType> weights;  // unset: as the file stores them
  std::string kernels = "spmv";
  std::uint64_t seed = 0;
  bool console = true;
  std::vector<std::string> benchmark_args;  // argv[0] + the rest
};

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

double parse_double(const std::string& flag, const std::string& v) {
  char* end = nullptr;
  const double d = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0' || !std::isfinite(d)) throw UsageError(flag + " wants a number, got '" + v + "'");
  return d;
}

long long parse_int(const std::string& flag, const std::string& v) {
  char* end = nullptr;
  const long long i = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0') throw UsageError(flag + " wants an integer, got '" + v + "'");
  return i;
}

// Returns false when --help was asked for.
bool parse_args(int argc, char** argv, Options& o) {
  o.benchmark_args.push_back(argc > 0 ? argv[0] : "sparsewave_bench");
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help") return false;
    if (a.rfind("--benchmark_", 0) == 0) {
      if (a.rfind("--benchmark_format=", 0) == 0 && a != "--benchmark_format=console") o.console = false;
      o.benchmark_args.push_back(a);
      continue;
    }
    if (a.size() > 1 && a[0] == '-') {
      std::string flag = a, value;
      bool has_value = false;
      const auto eq = a.find('=');
      if (eq != std::string::npos) {
        flag = a.substr(0, eq);
        value = a.substr(eq + 1);
        has_value = true;
      }
      auto take = [&]() -> std::string {
        if (has_value) return value;
        if (i + 1 >= argc) throw UsageError(flag + " needs a value");
        return argv[++i];
      };
      auto no_value = [&] {
        if (has_value) throw UsageError(flag + " takes no value");
      };
      if (flag == "--seconds") {
        o.seconds = parse_double(flag, take());
        if (!(o.seconds > 0)) throw UsageError("--seconds must be > 0");
      } else if (flag == "--batched") {
        no_value();
        o.batched = true;
      } else if (flag == "--threads") {
        const long long n = parse_int(flag, take());
        if (n < 1 || n > 1024) throw UsageError("--threads must be in 1..1024");
        o.threads = static_cast<int>(n);
      } else if (flag == "--isa") {
        o.isa = take();
      } else if (flag == "--weights") {
        try {
          o.weights = sw::parse_weight_type(take());
        } catch (const std::invalid_argument& e) {
          throw UsageError(std::string("--weights: ") + e.what());
        }
      } else if (flag == "--half-weights") {  // the older spelling of --weights float16
        no_value();
        o.weights = sw::WeightType::f16;
      } else if (flag == "--kernels") {
        o.kernels = take();
        if (o.kernels != "spmv" && o.kernels != "all" && o.kernels != "none")
          throw UsageError("--kernels must be spmv, all or none, got '" + o.kernels + "'");
      } else if (flag == "--seed") {
        const long long s = parse_int(flag, take());
        if (s < 0) throw UsageError("--seed must be >= 0");
        o.seed = static_cast<std::uint64_t>(s);
      } else {
        throw UsageError("unknown option '" + a + "'");
      }
      continue;
    }
    if (!o.model.empty()) throw UsageError("more than one model given ('" + o.model + "', '" + a + "')");
    o.model = a;
  }
  return true;
}

std::string seconds_tag(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%gs", s);
  return buf;
}

std::string base_name(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// ---------------------------------------------------------------------------
// End-to-end synthesis.

struct E2ECase {
  std::string name, isa;
  const sw::Vocoder* vocoder = nullptr;
  const std::vector<float>* mels = nullptr;
  int64_t frames = 0;
  sw::SynthesisOptions options;
};

void run_e2e(benchmark::State& state, const E2ECase* c) {
  try {
    sw::set_isa(c->isa);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  const sw::Model& m = c->vocoder->model();
  const int64_t expected = c->frames * m.hop_length();
  int64_t produced = 0;
  for (auto _ : state) {
    std::vector<float> audio;
    try {
      audio = c->vocoder->synthesize(c->mels->data(), c->frames, c->options);
    } catch (const std::exception& e) {
      state.SkipWithError(e.what());
      break;
    }
    benchmark::DoNotOptimize(audio.data());
    benchmark::ClobberMemory();
    produced = static_cast<int64_t>(audio.size());
  }
  if (state.error_occurred()) return;
  if (produced != expected) {
    const std::string msg =
        "synthesize returned " + std::to_string(produced) + " samples, expected " + std::to_string(expected);
    state.SkipWithError(msg.c_str());
    return;
  }
  const double iters = static_cast<double>(state.iterations());
  const double samples = static_cast<double>(produced);
  const double audio_s = samples / m.sample_rate();
  using C = benchmark::Counter;
  state.counters["samples"] = C(samples);
  state.counters["samples/s"] = C(samples * iters, C::kIsRate);
  state.counters["RTF"] = C(audio_s * iters, C::kIsRate | C::kInvert);
  state.counters["xRT"] = C(audio_s * iters, C::kIsRate);
  state.counters["GFLOPS"] =
      C(2.0 * static_cast<double>(m.loop_nonzero_macs()) * samples * iters * 1e-9, C::kIsRate);
}

// ---------------------------------------------------------------------------
// Reporting: forwards to the display reporter of the chosen format and keeps
// the e2e results for the plain summary lines.

struct E2EResult {
  double samples = 0, samples_per_s = 0, rtf = 0, real_s = 0;
  bool from_median = false, error = false;
  std::string error_message;
};

class ForwardingReporter : public benchmark::BenchmarkReporter {
 public:
  explicit ForwardingReporter(benchmark::BenchmarkReporter* inner) : inner_(inner) {}
  std::map<std::string, E2EResult> e2e;
  bool any_error = false;

  bool ReportContext(const Context& context) override { return inner_->ReportContext(context); }
  void ReportRuns(const std::vector<Run>& reports) override {
    inner_->ReportRuns(reports);
    for (const Run& r : reports) {
      const bool skipped = swbench::run_skipped(r);
      if (skipped) any_error = true;
      const std::string& name = r.run_name.function_name;  // without "/real_time" etc.
      if (name.rfind("e2e/", 0) != 0) continue;
      E2EResult& e = e2e[name];
      if (skipped) {
        e.error = true;
        e.error_message = swbench::run_message(r);
        continue;
      }
      const bool is_median = r.run_type == Run::RT_Aggregate && r.aggregate_name == "median";
      if (r.run_type == Run::RT_Aggregate && !is_median) continue;
      if (e.from_median && !is_median) continue;
      const double real_s = r.GetAdjustedRealTime() / benchmark::GetTimeUnitMultiplier(r.time_unit);
      // Repetitions without aggregates: keep the fastest.
      if (!is_median && e.real_s > 0 && real_s >= e.real_s) continue;
      auto get = [&](const char* k) {
        auto it = r.counters.find(k);
        return it == r.counters.end() ? 0.0 : it->second.value;
      };
      e.samples = get("samples");
      e.samples_per_s = get("samples/s");
      e.rtf = get("RTF");
      e.real_s = real_s;
      e.from_median = is_median;
    }
  }
  void Finalize() override { inner_->Finalize(); }

 private:
  benchmark::BenchmarkReporter* inner_;
};

}  // namespace

int main(int argc, char** argv) {
  Options o;
  try {
    if (!parse_args(argc, argv, o)) {
      std::cout << kUsage;
      return 0;
    }
  } catch (const UsageError& e) {
    std::cerr << "sparsewave_bench: " << e.what() << "\n" << kUsage;
    return 1;
  }
  if (!swbench::initialize_benchmark(o.benchmark_args)) return 1;
  std::ostream& info = o.console ? std::cout : std::cerr;

  // The e2e kernel path: --isa, else SPARSEWAVE_ISA, else the best.
  std::vector<std::string> e2e_isas;
  try {
    sw::apply_isa_from_environment();
    if (o.isa == "all")
      e2e_isas = sw::available_isas();
    else if (o.isa.empty() || o.isa == "auto")
      e2e_isas = {sw::active_isa()};
    else {
      sw::set_isa(o.isa);  // validates the name on this CPU
      e2e_isas = {sw::active_isa()};
    }
  } catch (const std::invalid_argument& e) {
    std::cerr << "sparsewave_bench: " << e.what() << "\n";
    return 1;
  }
  {
    std::string avail;
    for (const auto& n : sw::available_isas()) avail += (avail.empty() ? "" : ",") + n;
    const sw::CpuFeatures f = sw::detect_cpu_features();
    info << "sparsewave_bench: kernel paths on this CPU: " << avail << " (e2e uses "
         << (o.isa == "all" ? std::string("all") : e2e_isas[0]) << ")";
#if defined(__aarch64__)
    info << "; aarch64 dotprod=" << f.dotprod << " fp16=" << f.fp16;
#else
    (void)f;
#endif
    info << "\n";
  }

  // Model and its random mels (kept alive for the whole run).
  std::unique_ptr<sw::Vocoder> vocoder;
  std::vector<float> mels;
  int64_t frames = 0;
  std::vector<std::unique_ptr<E2ECase>> cases;
  if (!o.model.empty()) {
    try {
      sw::LoadOptions lo;
      lo.weights = o.weights;
      vocoder = sw::Vocoder::load(o.model, lo);
    } catch (const std::exception& e) {
      std::cerr << "sparsewave_bench: cannot load '" << o.model << "': " << e.what() << "\n";
      return 2;
    }
    const sw::Model& m = vocoder->model();
    frames = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(o.seconds * m.sample_rate() / m.hop_length())));
    mels.resize(static_cast<std::size_t>(frames * m.n_mels()));
    std::mt19937_64 rng(o.seed ^ 0x6d656c73ULL);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    for (float& v : mels) v = dist(rng);
    info << "sparsewave_bench: model " << o.model << ": family=" << m.family() << " sample_rate=" << m.sample_rate()
         << " hop_length=" << m.hop_length() << " n_mels=" << m.n_mels()
         << " loop_nonzero_macs=" << m.loop_nonzero_macs() << " loop_stored_macs=" << m.loop_stored_macs()
         << " weights=" << (o.weights ? sw::weight_type_name(*o.weights) : "as stored") << "\n";
    info << "sparsewave_bench: e2e input: " << frames << " frames = " << frames * m.hop_length() << " samples ("
         << static_cast<double>(frames * m.hop_length()) / m.sample_rate() << " s), "
         << (o.batched ? "batched, threads=" + std::to_string(o.threads) : std::string("unbatched")) << "\n";
    if (!o.batched && o.threads != 1)
      info << "sparsewave_bench: note: --threads applies to --batched only; unbatched runs on one thread\n";

    for (const std::string& isa : e2e_isas) {
      auto c = std::make_unique<E2ECase>();
      c->isa = isa;
      c->vocoder = vocoder.get();
      c->mels = &mels;
      c->frames = frames;
      c->options.seed = o.seed;
      c->options.batched = o.batched;
      c->options.threads = o.batched ? o.threads : 1;
      c->name = "e2e/" + isa + "/" + (o.batched ? "batched" : "unbatched") +
                (o.batched && o.threads > 1 ? "/t" + std::to_string(o.threads) : std::string()) + "/" +
                seconds_tag(o.seconds);
      benchmark::RegisterBenchmark(c->name.c_str(), run_e2e, c.get())
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
      cases.push_back(std::move(c));
    }
  } else {
    info << "sparsewave_bench: no model given, end-to-end synthesis skipped "
            "(pass a .sw file: sparsewave_bench model.sw)\n";
  }

  if (o.kernels != "none") {
    swbench::KernelCaseSet set;
    if (o.kernels == "spmv") set.batches = {1};
    swbench::register_kernel_benchmarks(set);
  }

  std::unique_ptr<benchmark::BenchmarkReporter> inner;
  if (o.console) {
    inner = std::make_unique<swbench::KernelSummaryReporter>(
        isatty(STDOUT_FILENO) ? benchmark::ConsoleReporter::OO_ColorTabular : benchmark::ConsoleReporter::OO_Tabular);
  } else {
    std::string fmt;
    for (const auto& a : o.benchmark_args)
      if (a.rfind("--benchmark_format=", 0) == 0) fmt = a.substr(std::string("--benchmark_format=").size());
    if (fmt == "json")
      inner = std::make_unique<benchmark::JSONReporter>();
    else {
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#endif
      inner = std::make_unique<benchmark::CSVReporter>();  // deprecated upstream, still the csv format
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
    }
  }
  ForwardingReporter reporter(inner.get());
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();

  std::cout.flush();
  bool e2e_error = false;
  for (const auto& c : cases) {
    auto it = reporter.e2e.find(c->name);
    if (it == reporter.e2e.end()) continue;  // filtered out
    const E2EResult& r = it->second;
    char buf[512];
    if (r.error) {
      e2e_error = true;
      std::snprintf(buf, sizeof buf, "summary: %s FAILED: %s\n", c->name.c_str(), r.error_message.c_str());
    } else {
      const double audio_s = r.samples / vocoder->model().sample_rate();
      std::snprintf(buf, sizeof buf,
                    "summary: %s model=%s isa=%s mode=%s threads=%d audio=%.3fs samples=%.0f wall=%.4fs "
                    "samples/s=%.1f RTF=%.4f (%.2fx real time)\n",
                    c->name.c_str(), base_name(o.model).c_str(), c->isa.c_str(),
                    o.batched ? "batched" : "unbatched", c->options.threads, audio_s, r.samples, r.real_s,
                    r.samples_per_s, r.rtf, r.rtf > 0 ? 1.0 / r.rtf : 0.0);
    }
    info << buf;
  }
  info.flush();
  if (reporter.any_error || e2e_error) return 3;
  return 0;
}
