// Kernel microbenchmark cases shared by bench_kernels and sparsewave_bench:
// registration of the block-sparse spmv/spmm cases at the WaveRNN shapes
// (float32, float16 and int8 weights) and of the int8 quantizer, the console
// summaries (sparse vs dense-equivalent GFLOP/s; spmv time by weight storage
// next to float32 16x1's), and the argument handling both binaries need
// (google-benchmark version differences).
// The case list, names and counters are documented in bench_kernels.cpp.
#pragma once
#include <benchmark/benchmark.h>

#include <map>
#include <ostream>
#include <string>
#include <vector>

namespace swbench {

// A run that failed or was skipped, and why: google-benchmark >= 1.8 reports
// Run::skipped / skip_message, older versions Run::error_occurred /
// error_message. These compile against both.
namespace detail {
template <class R>
auto run_skipped(const R& r, int) -> decltype((void)r.skipped, bool()) {
  return static_cast<unsigned>(r.skipped) != 0u;
}
template <class R>
auto run_skipped(const R& r, long) -> decltype((void)r.error_occurred, bool()) {
  return r.error_occurred;
}
template <class R>
auto run_message(const R& r, int) -> decltype((void)r.skip_message, std::string()) {
  return r.skip_message;
}
template <class R>
auto run_message(const R& r, long) -> decltype((void)r.error_message, std::string()) {
  return r.error_message;
}
}  // namespace detail
inline bool run_skipped(const benchmark::BenchmarkReporter::Run& r) { return detail::run_skipped(r, 0); }
inline std::string run_message(const benchmark::BenchmarkReporter::Run& r) { return detail::run_message(r, 0); }

// Which kernel cases to register. Batch 1 is spmv, others spmm_b<batch>.
struct KernelCaseSet {
  std::vector<int> batches{1, 8, 16};
};

// Registers the cases for every kernel path this CPU can run and returns how
// many benchmarks were registered. Leaves the active ISA at "auto".
int register_kernel_benchmarks(const KernelCaseSet& set = {});

// Console reporter that, after the runs, prints per sparse case the GFLOP/s
// ratio sparse / dense-equivalent and the speedup over the d1.0 matrix.
class KernelSummaryReporter : public benchmark::ConsoleReporter {
 public:
  using benchmark::ConsoleReporter::ConsoleReporter;
  void ReportRuns(const std::vector<Run>& reports) override;
  void Finalize() override;

 private:
  // Per ISA, shape and density: each spmv weight storage's time next to the
  // float32 16x1 kernel's, and the int8 quantizer's alone.
  void storage_summary(std::ostream& out) const;
  struct Measured {
    double gflops = 0, time_ns = 0;
    bool from_median = false;
  };
  std::map<std::string, Measured> results_;
};

// benchmark::Initialize on args (args[0] is the program name). Unlike a bare
// Initialize it accepts --benchmark_min_time both as "<seconds>s" (>= 1.8)
// and as a bare number (< 1.8), whichever the linked library wants.
// Returns false (after printing why) if arguments are left unrecognised.
bool initialize_benchmark(std::vector<std::string> args);

}  // namespace swbench
