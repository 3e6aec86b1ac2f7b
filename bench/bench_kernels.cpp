// Microbenchmarks of the block-sparse kernels (google-benchmark).
//
// Cases: spmv and spmm (batch B = 8 and 16) for the WaveRNN weight shapes
// 2688x896, 3072x1024 and 768x256, densities 1.0 / 0.1 / 0.05 / 0.03, for
// every kernel path this CPU can run (generic, avx2, avx512, neon). The
// kernels (kSpmvKernels / kSpmmKernels in kernel_cases.cpp): spmv with float32
// weights in 4x4 and 16x1 blocks, float16 in 4x4 and 16x1, int8 in 8x4 and
// 4x4 (its time includes quantizing x, as every int8 product does); spmm
// float32 4x4 and 16x1. Each sparse case also gets a "dense-equivalent" case:
// a density-1.0 square matrix (same block, storage and ISA) with about the
// same number of stored weights, side = round(sqrt(nnz) / 16) * 16, so
// GFLOP/s of the sparse kernel can be compared with our own dense kernel at
// equal work. quantize/<isa>/<n> times the int8 activation quantizer alone
// on n floats (n = each shape's column count).
//
// Names:   <op>/<isa>/<block>/<rows>x<cols>/d<density>[/dense_eq_<n>x<n>]
//          op = spmv | spmv_f16 | spmv_i8 | spmv_i8_pair | spmv_i8a16 | spmm_b8 | spmm_b16
//          quantize/<isa>/<n>
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
// shape at density 1.0; a second one, per ISA, shape and density, each spmv
// storage's time side by side with its ratio to float32 16x1's (the int8
// 8x4 / float32 16x1 ratio of issue 16) and the quantizer's time alone.
// Medians (rather than single runs) with --benchmark_repetitions=N
// --benchmark_report_aggregates_only=true.
//
// Build and run:
//   cmake -S . -B build-bench -DSPARSEWAVE_BENCH=ON -DCMAKE_BUILD_TYPE=Release
//   cmake --build build-bench -j2
//   ./build-bench/bench_kernels --benchmark_min_time=0.05s
//       --benchmark_filter='^spmv/avx512/.*/2688x896/'
//   (one command line; add --benchmark_repetitions=5
//   --benchmark_report_aggregates_only=true for medians on a noisy machine)
//   Issue 16's int8 table (2688x896 at 95 % sparsity, 768x256 at 90 %):
//   ./build-bench/bench_kernels --benchmark_repetitions=9
//       --benchmark_report_aggregates_only=true --benchmark_filter=
//       '^(spmv[_a-z0-9]*/avx2/[0-9x]+/(2688x896/d0.05|768x256/d0.1)$|quantize/avx2/)'

// Extra flag (ours): --sparsewave_summary=0 turns the summary off.
//
// The cases, the summary reporter and the argument handling live in
// kernel_cases.cpp, shared with sparsewave_bench (the Android/board benchmark,
// bench_main.cpp).
#include <benchmark/benchmark.h>

#include <string>
#include <unistd.h>
#include <vector>

#include "kernel_cases.h"

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
  if (!swbench::initialize_benchmark(args)) return 1;

  swbench::register_kernel_benchmarks();

  if (summary && console) {
    swbench::KernelSummaryReporter reporter(isatty(STDOUT_FILENO) ? benchmark::ConsoleReporter::OO_ColorTabular
                                                                  : benchmark::ConsoleReporter::OO_Tabular);
    benchmark::RunSpecifiedBenchmarks(&reporter);
  } else {
    benchmark::RunSpecifiedBenchmarks();
  }
  benchmark::Shutdown();
  return 0;
}
