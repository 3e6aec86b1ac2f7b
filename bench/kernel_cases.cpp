// Kernel cases shared by bench_kernels and sparsewave_bench (see
// kernel_cases.h; names and counters are documented in bench_kernels.cpp).
#include "kernel_cases.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <random>
#include <stdexcept>
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

// The kernels timed: a block shape and how its weights are stored. spmm
// (batch > 1) has only float32 kernels; spmv has every storage.
struct Kernel {
  Block b;
  sw::WeightType t;
  bool pair_bounded = false;  // int8 values by Int8Rule::pair_bounded (AVX2's offset-byte kernel)
};
const Kernel kSpmmKernels[] = {{{4, 4}, sw::WeightType::f32}, {{16, 1}, sw::WeightType::f32}};
const Kernel kSpmvKernels[] = {
    {{4, 4}, sw::WeightType::f32}, {{16, 1}, sw::WeightType::f32}, {{4, 4}, sw::WeightType::f16},
    {{16, 1}, sw::WeightType::f16}, {{8, 4}, sw::WeightType::i8},  {{4, 4}, sw::WeightType::i8},
    {{8, 4}, sw::WeightType::i8, true}, {{8, 4}, sw::WeightType::i8a16}};
// The weight-storage summary's columns (labels of kSpmvKernels, same order)
// and its baseline: the float32 16x1 kernel.
const char* const kSpmvLabels[] = {"f32 4x4", "f32 16x1", "f16 4x4",    "f16 16x1",
                                   "i8 8x4",  "i8 4x4",   "i8 8x4 pair", "i8a16 8x4"};
constexpr int kBaseline = 1;
static_assert(std::size(kSpmvLabels) == std::size(kSpmvKernels), "one label per spmv kernel");

std::string density_tag(double d) {
  if (d >= 1.0) return "d1.0";
  char buf[32];
  std::snprintf(buf, sizeof buf, "d%g", d);
  return buf;
}

// spmv, spmv_f16, spmv_i8, spmv_i8_pair, spmv_i8a16 (the kernel slots' names) or spmm_b<batch>.
std::string op_name(int batch, const Kernel& k) {
  if (batch != 1) return "spmm_b" + std::to_string(batch);
  switch (k.t) {
    case sw::WeightType::f16: return "spmv_f16";
    case sw::WeightType::i8: return k.pair_bounded ? "spmv_i8_pair" : "spmv_i8";
    case sw::WeightType::i8a16: return "spmv_i8a16";
    default: return "spmv";
  }
}

// Random block-sparse matrix: each block kept with probability `density`,
// values uniform in [-1, 1), stored as `t`. The seed depends only on the
// shape, block and density: a block's float32, float16 and int8 cases run
// the same pattern and values.
sw::BlockSparseMatrix make_matrix(int rows, int cols, Block b, double density, const Kernel& k) {
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
  sw::BlockSparseMatrix m =
      sw::BlockSparseMatrix::from_packed(rows, cols, b.br, b.bc, row_ptr, block_col, values.data(), values.size());
  if (k.pair_bounded) {
    m.store_int8(sw::Int8Rule::pair_bounded);
    if (!m.pair_bounded()) throw std::logic_error("pair-bounded rule left a pair past the bound");
  } else
    m.store_as(k.t);
  return m;
}

// Matrices are shared between ISAs and ops; built once, on first request.
using MatrixKey = std::tuple<int, int, int, int, long, int, bool>;
std::map<MatrixKey, std::shared_ptr<const sw::BlockSparseMatrix>>& matrix_cache() {
  static std::map<MatrixKey, std::shared_ptr<const sw::BlockSparseMatrix>> cache;
  return cache;
}

std::shared_ptr<const sw::BlockSparseMatrix> get_matrix(int rows, int cols, double density, const Kernel& k) {
  const Block b = k.b;
  const MatrixKey key{rows, cols, b.br, b.bc, std::lround(density * 1e6), static_cast<int>(k.t), k.pair_bounded};
  auto& cache = matrix_cache();
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  auto m = std::make_shared<const sw::BlockSparseMatrix>(make_matrix(rows, cols, b, density, k));
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
// buffers are allocated (aligned, padded) before the timed loop. An int8
// matrix's spmv quantizes x inside spmv_padded, as every product does.
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

// The activation quantizer alone (KernelTable::quantize on n floats): the
// part of every int8 spmv that float kernels do not have.
void run_quantize(benchmark::State& state, int n, const sw::KernelTable* table) {
  sw::AlignedVector<float> x(static_cast<std::size_t>(n));
  sw::AlignedVector<int8_t> q(static_cast<std::size_t>(n));
  fill_random(x.data(), x.size(), 12345u);
  float scale = 0;
  for (auto _ : state) {
    scale = table->quantize(x.data(), n, q.data());
    benchmark::DoNotOptimize(scale);
    benchmark::ClobberMemory();
  }
  state.counters["floats"] = benchmark::Counter(n);
}

struct CaseInfo {
  std::string sparse, dense_eq, full_dense;  // benchmark names
  double density;
};
std::vector<CaseInfo>& case_infos() {
  static std::vector<CaseInfo> v;
  return v;
}

// One row of the weight-storage summary: the spmv case of each kSpmvKernels
// entry at one ISA, shape and density, and the quantizer at that width.
struct StorageRow {
  std::string isa, shape, density, quantize;
  std::string spmv[std::size(kSpmvKernels)];
};
std::vector<StorageRow>& storage_rows() {
  static std::vector<StorageRow> v;
  return v;
}
StorageRow& storage_row(const std::string& isa, const std::string& shape, const std::string& density) {
  for (StorageRow& r : storage_rows())
    if (r.isa == isa && r.shape == shape && r.density == density) return r;
  storage_rows().push_back({isa, shape, density, "", {}});
  return storage_rows().back();
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
    for (const auto& isa : isas) {
      const bool spmv = batch == 1;
      const Kernel* kernels = spmv ? kSpmvKernels : kSpmmKernels;
      const int n_kernels = static_cast<int>(spmv ? std::size(kSpmvKernels) : std::size(kSpmmKernels));
      for (int ki = 0; ki < n_kernels; ++ki)
        for (Shape s : kShapes)
          for (double d : kDensities) {
            const Kernel& k = kernels[ki];
            const Block b = k.b;
            const std::string block = std::to_string(b.br) + "x" + std::to_string(b.bc);
            const std::string shape = std::to_string(s.rows) + "x" + std::to_string(s.cols);
            const std::string base = op_name(batch, k) + "/" + isa.first + "/" + block + "/" + shape;
            const std::string name = base + "/" + density_tag(d);
            auto m = get_matrix(s.rows, s.cols, d, k);
            benchmark::RegisterBenchmark(name.c_str(), run_case, m, isa.second, batch)
                ->Unit(benchmark::kNanosecond);
            ++count;
            if (spmv) storage_row(isa.first, shape, density_tag(d)).spmv[ki] = name;
            if (d >= 1.0) continue;
            const int side = dense_eq_side(nnz_values(*m));
            const std::string eq_name =
                name + "/dense_eq_" + std::to_string(side) + "x" + std::to_string(side);
            auto dm = get_matrix(side, side, 1.0, k);
            benchmark::RegisterBenchmark(eq_name.c_str(), run_case, dm, isa.second, batch)
                ->Unit(benchmark::kNanosecond);
            ++count;
            case_infos().push_back({name, eq_name, base + "/" + density_tag(1.0), d});
          }
      if (!spmv) continue;
      for (Shape s : kShapes) {  // the quantizer at each width an int8 spmv quantizes
        const std::string name = "quantize/" + isa.first + "/" + std::to_string(s.cols);
        benchmark::RegisterBenchmark(name.c_str(), run_quantize, s.cols, isa.second)->Unit(benchmark::kNanosecond);
        ++count;
        const std::string shape = std::to_string(s.rows) + "x" + std::to_string(s.cols);
        for (double d : kDensities) storage_row(isa.first, shape, density_tag(d)).quantize = name;
      }
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
  storage_summary(out);
  out.flush();
}

void KernelSummaryReporter::storage_summary(std::ostream& out) const {
  constexpr int n = static_cast<int>(std::size(kSpmvKernels));
  auto time_of = [&](const std::string& name) {
    auto it = results_.find(name);
    return it == results_.end() ? 0.0 : it->second.time_ns;
  };
  bool header = false;
  for (const StorageRow& r : storage_rows()) {
    const double base = time_of(r.spmv[kBaseline]);
    if (base <= 0) continue;
    if (!header) {
      out << "\nSummary: spmv by weight storage, us per call (x: time / " << kSpmvLabels[kBaseline]
          << "'s, same run); int8 times include quantizing x, shown alone as quant\n";
      char buf[128];
      std::snprintf(buf, sizeof buf, "%-8s %-10s %-6s", "isa", "shape", "dens");
      out << buf;
      for (const char* label : kSpmvLabels) {
        std::snprintf(buf, sizeof buf, " %15s", label);
        out << buf;
      }
      out << "   quant\n";
      header = true;
    }
    char buf[128];
    std::snprintf(buf, sizeof buf, "%-8s %-10s %-6s", r.isa.c_str(), r.shape.c_str(), r.density.c_str());
    out << buf;
    for (int k = 0; k < n; ++k) {
      const double t = time_of(r.spmv[k]);
      if (t > 0)
        std::snprintf(buf, sizeof buf, " %8.2f (%.2fx)", t * 1e-3, t / base);
      else
        std::snprintf(buf, sizeof buf, " %15s", "-");
      out << buf;
    }
    const double q = time_of(r.quantize);
    if (q > 0)
      std::snprintf(buf, sizeof buf, " %7.3f\n", q * 1e-3);
    else
      std::snprintf(buf, sizeof buf, " %7s\n", "-");
    out << buf;
  }
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
