// Microbenchmarks of the block-sparse kernels (google-benchmark).
//
// Cases: spmv and spmm (batch B = 8 and 16) for the WaveRNN weight shapes
// 2688x896, 3072x1024 and 768x256, densities 1.0 / 0.1 / 0.05 / 0.03, blocks
// 4x4 and 16x1, for every kernel path this CPU can run (generic, avx2,
// avx512, neon). Each sparse case also gets a "dense-equivalent" case: a
// density-1.0 square matrix (same block, same ISA) with about the same number
// of stored weights, side = round(sqrt(nnz) / 16) * 16, so GFLOP/s of the
// sparse kernel can be compared with our own dense kernel at equal work.
//
// Names:   <op>/<isa>/<block>/<rows>x<cols>/d<density>[/dense_eq_<n>x<n>]
//          op = spmv | spmm_b8 | spmm_b16
// Counters (per call unless marked as a rate):
//   MACs     nonzero multiply-adds (stored weights x batch)
//   GFLOPS   2 * MACs / time                       (rate, in GFLOP/s)
//   wbytes   bytes of weights: values + block indices + row pointers
//   wGB/s    wbytes / time, the weight stream rate (rate, in GB/s)
//   density  stored blocks / all blocks of the generated matrix
//
// The timed loop calls BlockSparseMatrix::spmv_padded / spmm_padded on
// 64-byte aligned, already padded buffers with the kernel table fixed at
// registration, so no copies, allocation or dispatch happen inside it.
// Matrices are random with a fixed seed per case (std::mt19937): each block is
// kept with probability = density.
//
// After the runs (console output only) a summary lists, per sparse case, the
// GFLOP/s ratio sparse / dense-equivalent and the speedup over the same
// shape at density 1.0.
//
// Build and run:
//   cmake -S . -B build-bench -DSPARSEWAVE_BENCH=ON -DCMAKE_BUILD_TYPE=Release
//   cmake --build build-bench -j2
//   ./build-bench/bench_kernels --benchmark_min_time=0.05s
//       --benchmark_filter='^spmv/avx512/.*/2688x896/'
//   (one command line; add --benchmark_repetitions=5
//   --benchmark_report_aggregates_only=true for medians on a noisy machine)
// Extra flag (ours): --sparsewave_summary=0 turns the summary off.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <unistd.h>
#include <vector>

#include "aligned_buffer.h"
#include "block_sparse_matrix.h"
#include "dispatch.h"
#include "kernels.h"

namespace sw = sparsewave;

namespace {

struct Shape {
  int rows, cols;
};
struct Block {
  int br, bc;
};

const Shape kShapes[] = {{2688, 896}, {3072, 1024}, {768, 256}};
const double kDensities[] = {1.0, 0.1, 0.05, 0.03};
const Block kBlocks[] = {{4, 4}, {16, 1}};
const int kBatches[] = {1, 8, 16};  // 1 = spmv

std::string density_tag(double d) {
  if (d >= 1.0) return "d1.0";
  char buf[32];
  std::snprintf(buf, sizeof buf, "d%g", d);
  return buf;
}

std::string op_name(int batch) { return batch == 1 ? "spmv" : "spmm_b" + std::to_string(batch); }

// Random block-sparse matrix: each block kept with probability `density`,
// values uniform in [-1, 1). The seed depends only on the case.
sw::BlockSparseMatrix make_matrix(int rows, int cols, Block b, double density) {
  const std::uint32_t seed = 0x5eed0000u ^ static_cast<std::uint32_t>(rows * 131 + cols * 17 + b.br * 7 + b.bc) ^
                             static_cast<std::uint32_t>(std::lround(density * 10000.0)) << 20;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> keep(0.0f, 1.0f), val(-1.0f, 1.0f);
  const int nbr = (rows + b.br - 1) / b.br, nbc = (cols + b.bc - 1) / b.bc;
  std::vector<int32_t> row_ptr(nbr + 1, 0), block_col;
  std::vector<float> values;
  const int bs = b.br * b.bc;
  for (int rb = 0; rb < nbr; ++rb) {
    for (int cb = 0; cb < nbc; ++cb) {
      if (density < 1.0 && keep(rng) >= density) continue;
      block_col.push_back(cb);
      for (int i = 0; i < bs; ++i) {
        const int r = rb * b.br + i / b.bc, c = cb * b.bc + i % b.bc;
        values.push_back(r < rows && c < cols ? val(rng) : 0.0f);
      }
    }
    row_ptr[rb + 1] = static_cast<int32_t>(block_col.size());
  }
  return sw::BlockSparseMatrix::from_packed(rows, cols, b.br, b.bc, row_ptr, block_col, values.data(),
                                            values.size());
}

// Matrices are shared between ISAs and ops; built once, on first request.
using MatrixKey = std::tuple<int, int, int, int, long>;
std::map<MatrixKey, std::shared_ptr<const sw::BlockSparseMatrix>>& matrix_cache() {
  static std::map<MatrixKey, std::shared_ptr<const sw::BlockSparseMatrix>> cache;
  return cache;
}

std::shared_ptr<const sw::BlockSparseMatrix> get_matrix(int rows, int cols, Block b, double density) {
  const MatrixKey key{rows, cols, b.br, b.bc, std::lround(density * 1e6)};
  auto& cache = matrix_cache();
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  auto m = std::make_shared<const sw::BlockSparseMatrix>(make_matrix(rows, cols, b, density));
  cache.emplace(key, m);
  return m;
}

// Stored weights (values) of a matrix; padding values count too, but none of
// the benchmark shapes needs padding.
double nnz_values(const sw::BlockSparseMatrix& m) { return static_cast<double>(m.n_values()); }

int dense_eq_side(double nnz) {
  const int side = static_cast<int>(std::lround(std::sqrt(nnz) / 16.0)) * 16;
  return std::max(side, 16);
}

void fill_random(float* p, std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (std::size_t i = 0; i < n; ++i) p[i] = dist(rng);
}

// One benchmark case: matrix, kernel table and batch are fixed here; the
// buffers are allocated (aligned, padded) before the timed loop.
void run_case(benchmark::State& state, std::shared_ptr<const sw::BlockSparseMatrix> mp,
              const sw::KernelTable* table, int batch) {
  const sw::BlockSparseMatrix& m = *mp;
  const int nbr = m.n_block_rows();
  const std::size_t n = static_cast<std::size_t>(batch);
  sw::AlignedVector<float> x(static_cast<std::size_t>(m.padded_cols()) * n);
  sw::AlignedVector<float> y(static_cast<std::size_t>(m.padded_rows()) * n, 0.0f);
  fill_random(x.data(), x.size(), 12345u);
  const float* xp = x.data();
  float* yp = y.data();

  if (batch == 1) {
    for (auto _ : state) {
      m.spmv_padded(xp, yp, false, 0, nbr, *table);
      benchmark::ClobberMemory();
    }
  } else {
    const std::ptrdiff_t ld = batch;
    for (auto _ : state) {
      m.spmm_padded(xp, ld, yp, ld, batch, false, 0, nbr, *table);
      benchmark::ClobberMemory();
    }
  }
  benchmark::DoNotOptimize(y.data());

  const double macs = nnz_values(m) * batch;
  const double wbytes = static_cast<double>(m.nbytes());
  const double iters = static_cast<double>(state.iterations());
  state.counters["MACs"] = benchmark::Counter(macs);
  state.counters["GFLOPS"] = benchmark::Counter(2.0 * macs * iters * 1e-9, benchmark::Counter::kIsRate);
  state.counters["wbytes"] = benchmark::Counter(wbytes);
  state.counters["wGB/s"] = benchmark::Counter(wbytes * iters * 1e-9, benchmark::Counter::kIsRate);
  state.counters["density"] = benchmark::Counter(m.density());
}

// ---------------------------------------------------------------------------
// Summary: sparse vs dense-equivalent GFLOP/s and vs the full d1.0 matrix.

struct CaseInfo {
  std::string sparse, dense_eq, full_dense;  // benchmark names
  double density;
};
std::vector<CaseInfo>& case_infos() {
  static std::vector<CaseInfo> v;
  return v;
}

struct Measured {
  double gflops = 0, time_ns = 0;
  bool from_median = false;
};

class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  using benchmark::ConsoleReporter::ConsoleReporter;
  std::map<std::string, Measured> results;

  void ReportRuns(const std::vector<Run>& reports) override {
    benchmark::ConsoleReporter::ReportRuns(reports);
    for (const Run& r : reports) {
      if (r.error_occurred) continue;
      const bool is_median = r.run_type == Run::RT_Aggregate && r.aggregate_name == "median";
      if (r.run_type == Run::RT_Aggregate && !is_median) continue;
      const std::string name = r.run_name.str();
      Measured& m = results[name];
      if (m.from_median && !is_median) continue;  // keep the median once seen
      if (!is_median && !m.from_median && m.time_ns > 0) {
        // Several repetitions without aggregates: keep the fastest.
        if (r.GetAdjustedCPUTime() >= m.time_ns) continue;
      }
      auto it = r.counters.find("GFLOPS");
      m.gflops = it == r.counters.end() ? 0.0 : it->second.value;
      m.time_ns = r.GetAdjustedCPUTime();  // time unit is ns for every case
      m.from_median = is_median;
    }
  }

  void Finalize() override {
    benchmark::ConsoleReporter::Finalize();
    std::ostream& out = GetOutputStream();
    bool header = false;
    for (const CaseInfo& c : case_infos()) {
      auto s = results.find(c.sparse), d = results.find(c.dense_eq), f = results.find(c.full_dense);
      if (s == results.end() || d == results.end()) continue;
      if (!header) {
        out << "\nSummary: sparse vs our own dense kernel (GFLOP/s at ~equal nonzero count; "
               "target >= 0.80)\n";
        char buf[256];
        std::snprintf(buf, sizeof buf, "%-42s %10s %12s %7s %11s\n", "case", "GFLOP/s", "dense_eq", "ratio",
                      "vs_d1.0(x)");
        out << buf;
        header = true;
      }
      char buf[256];
      char full[32] = "-";
      if (f != results.end() && s->second.time_ns > 0)
        std::snprintf(full, sizeof full, "%.1f", f->second.time_ns / s->second.time_ns);
      const double ratio = d->second.gflops > 0 ? s->second.gflops / d->second.gflops : 0.0;
      std::snprintf(buf, sizeof buf, "%-42s %10.2f %12.2f %7.3f %11s%s\n", c.sparse.c_str(), s->second.gflops,
                    d->second.gflops, ratio, full, ratio >= 0.8 ? "" : "  (< 0.80)");
      out << buf;
    }
    out.flush();
  }
};

// google-benchmark < 1.8 takes --benchmark_min_time as a bare number of
// seconds; newer versions want a suffix ("0.05s"). Accept both everywhere.
void normalize_min_time(std::vector<std::string>& args) {
  const std::string flag = "--benchmark_min_time=";
  for (std::string& a : args)
    if (a.rfind(flag, 0) == 0 && a.size() > flag.size() && a.back() == 's') a.pop_back();
}

std::vector<char*> to_argv(std::vector<std::string>& args) {
  std::vector<char*> v;
  for (std::string& a : args) v.push_back(a.data());
  v.push_back(nullptr);
  return v;
}

bool left_over(int argc, char** argv, const std::string& prefix) {
  for (int i = 1; i < argc; ++i)
    if (std::strncmp(argv[i], prefix.c_str(), prefix.size()) == 0) return true;
  return false;
}

void register_all() {
  std::vector<std::pair<std::string, const sw::KernelTable*>> isas;
  for (const std::string& name : sw::available_isas()) {
    sw::set_isa(name);
    isas.emplace_back(name, &sw::active_kernels());  // tables are static objects
  }
  sw::set_isa("auto");

  for (int batch : kBatches)
    for (const auto& isa : isas)
      for (Block b : kBlocks)
        for (Shape s : kShapes)
          for (double d : kDensities) {
            const std::string block = std::to_string(b.br) + "x" + std::to_string(b.bc);
            const std::string shape = std::to_string(s.rows) + "x" + std::to_string(s.cols);
            const std::string base = op_name(batch) + "/" + isa.first + "/" + block + "/" + shape;
            const std::string name = base + "/" + density_tag(d);
            auto m = get_matrix(s.rows, s.cols, b, d);
            benchmark::RegisterBenchmark(name.c_str(), run_case, m, isa.second, batch)
                ->Unit(benchmark::kNanosecond);
            if (d >= 1.0) continue;
            const int side = dense_eq_side(nnz_values(*m));
            const std::string eq_name =
                name + "/dense_eq_" + std::to_string(side) + "x" + std::to_string(side);
            auto dm = get_matrix(side, side, b, 1.0);
            benchmark::RegisterBenchmark(eq_name.c_str(), run_case, dm, isa.second, batch)
                ->Unit(benchmark::kNanosecond);
            case_infos().push_back({name, eq_name, base + "/" + density_tag(1.0), d});
          }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  bool summary = true;
  bool console = true;
  for (auto it = args.begin(); it != args.end();) {
    if (*it == "--sparsewave_summary=0" || *it == "--sparsewave_summary=false") {
      summary = false;
      it = args.erase(it);
      continue;
    }
    if (it->rfind("--benchmark_format=", 0) == 0 && *it != "--benchmark_format=console") console = false;
    ++it;
  }

  // Try the arguments as given; if this library version rejects the
  // "<seconds>s" form of --benchmark_min_time, retry with a bare number.
  std::vector<std::string> given = args;
  std::vector<char*> av = to_argv(given);
  int ac = static_cast<int>(given.size());
  benchmark::Initialize(&ac, av.data());
  if (left_over(ac, av.data(), "--benchmark_min_time=")) {
    normalize_min_time(args);
    given = args;
    av = to_argv(given);
    ac = static_cast<int>(given.size());
    benchmark::Initialize(&ac, av.data());
  }
  if (benchmark::ReportUnrecognizedArguments(ac, av.data())) return 1;

  register_all();

  if (summary && console) {
    SummaryReporter reporter(isatty(STDOUT_FILENO) ? benchmark::ConsoleReporter::OO_ColorTabular
                                                   : benchmark::ConsoleReporter::OO_Tabular);
    benchmark::RunSpecifiedBenchmarks(&reporter);
  } else {
    benchmark::RunSpecifiedBenchmarks();
  }
  benchmark::Shutdown();
  return 0;
}
