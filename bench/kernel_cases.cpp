// Kernel cases shared by bench_kernels and sparsewave_bench (see
// kernel_cases.h; names and counters are documented in bench_kernels.cpp).
#include "kernel_cases.h"

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
#include <vector>

#include "kernels/dispatch.h"
#include "kernels/table.h"
#include "matrix/aligned_buffer.h"
#include "matrix/block_sparse_matrix.h"

namespace sw = sparsewave;

namespace swbench {
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

struct CaseInfo {
  std::string sparse, dense_eq, full_dense;  // benchmark names
  double density;
};
std::vector<CaseInfo>& case_infos() {
  static std::vector<CaseInfo> v;
  return v;
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

}  // namespace

int register_kernel_benchmarks(const KernelCaseSet& set) {
  std::vector<std::pair<std::string, const sw::KernelTable*>> isas;
  for (const std::string& name : sw::available_isas()) {
    sw::set_isa(name);
    isas.emplace_back(name, &sw::active_kernels());  // tables are static objects
  }
  sw::set_isa("auto");

  int count = 0;
  for (int batch : set.batches)
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
            ++count;
            if (d >= 1.0) continue;
            const int side = dense_eq_side(nnz_values(*m));
            const std::string eq_name =
                name + "/dense_eq_" + std::to_string(side) + "x" + std::to_string(side);
            auto dm = get_matrix(side, side, b, 1.0);
            benchmark::RegisterBenchmark(eq_name.c_str(), run_case, dm, isa.second, batch)
                ->Unit(benchmark::kNanosecond);
            ++count;
            case_infos().push_back({name, eq_name, base + "/" + density_tag(1.0), d});
          }
  return count;
}

void KernelSummaryReporter::ReportRuns(const std::vector<Run>& reports) {
  benchmark::ConsoleReporter::ReportRuns(reports);
  for (const Run& r : reports) {
    if (run_skipped(r)) continue;
    const bool is_median = r.run_type == Run::RT_Aggregate && r.aggregate_name == "median";
    if (r.run_type == Run::RT_Aggregate && !is_median) continue;
    const std::string name = r.run_name.str();
    Measured& m = results_[name];
    if (m.from_median && !is_median) continue;  // keep the median once seen
    if (!is_median && !m.from_median && m.time_ns > 0) {
      // Several repetitions without aggregates: keep the fastest.
      if (r.GetAdjustedCPUTime() >= m.time_ns) continue;
    }
    auto it = r.counters.find("GFLOPS");
    m.gflops = it == r.counters.end() ? 0.0 : it->second.value;
    m.time_ns = r.GetAdjustedCPUTime();  // time unit is ns for every kernel case
    m.from_median = is_median;
  }
}

void KernelSummaryReporter::Finalize() {
  benchmark::ConsoleReporter::Finalize();
  std::ostream& out = GetOutputStream();
  bool header = false;
  for (const CaseInfo& c : case_infos()) {
    auto s = results_.find(c.sparse), d = results_.find(c.dense_eq), f = results_.find(c.full_dense);
    if (s == results_.end() || d == results_.end()) continue;
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
    if (f != results_.end() && s->second.time_ns > 0)
      std::snprintf(full, sizeof full, "%.1f", f->second.time_ns / s->second.time_ns);
    const double ratio = d->second.gflops > 0 ? s->second.gflops / d->second.gflops : 0.0;
    std::snprintf(buf, sizeof buf, "%-42s %10.2f %12.2f %7.3f %11s%s\n", c.sparse.c_str(), s->second.gflops,
                  d->second.gflops, ratio, full, ratio >= 0.8 ? "" : "  (< 0.80)");
    out << buf;
  }
  out.flush();
}

bool initialize_benchmark(std::vector<std::string> args) {
  // google-benchmark keeps argv[0] (the executable name for its context
  // line), so the strings must outlive this call.
  static std::vector<std::string> given;
  static std::vector<char*> av;
  given = args;
  av = to_argv(given);
  int ac = static_cast<int>(given.size());
  benchmark::Initialize(&ac, av.data());
  if (left_over(ac, av.data(), "--benchmark_min_time=")) {
    // This version rejected "<seconds>s" (< 1.8 wants a bare number): retry
    // with the suffix dropped. "<n>x" (>= 1.8) is passed on unchanged.
    const std::string flag = "--benchmark_min_time=";
    for (std::string& a : args)
      if (a.rfind(flag, 0) == 0 && a.size() > flag.size() && a.back() == 's') a.pop_back();
    given = args;
    av = to_argv(given);
    ac = static_cast<int>(given.size());
    benchmark::Initialize(&ac, av.data());
  }
  return !benchmark::ReportUnrecognizedArguments(ac, av.data());
}

}  // namespace swbench
