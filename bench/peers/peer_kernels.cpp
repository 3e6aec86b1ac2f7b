// Our spmv kernels next to two published int8 block-sparse products, in one
// process on the same matrices (bench/peers/run_peers.sh builds and runs it):
//   Opus 1.5  dnn/vec_avx.h  sparse_cgemv8x4        (AVX2: vpmaddubsw + vpmaddwd)
//   LPCNet    src/vec_avx.h  sparse_sgemv_accum8x4  (the same, before it moved into Opus)
// Both take 8x4 blocks laid out as ours are (row r's four weights at bytes 4r..4r+3
// of a block), an index list per block row (count, then each block's first
// column) and quantize x inside the call (127 * x + 127 into unsigned bytes:
// they assume |x| <= 1 and need no max scan). So they run on exactly the bytes
// and sparsity pattern of our int8 8x4 matrix; our other kernels get a matrix
// of their own block shape at the same density.
//
// Times are medians over interleaved samples (each sample a burst of calls of
// about --sample-ms of thread CPU time, the kernels' order alternating), one
// thread, the AVX2 table for ours. Our int8 times include our per-call quantization of x
// (max |x| scan included), as every int8 product does; theirs include theirs.
//
// Before timing, each peer's output is checked bit for bit against an exact
// integer model of what it computes, with weights halved so that no pair of
// products can saturate vpmaddubsw's int16 (their exporters keep adjacent
// weight pairs in range; with our full +-127 weights and x offset to
// [0, 254] pairs can reach 2 * 254 * 127 = 64516, and the count of rows that
// saturate is printed: a correctness difference, not a timing one).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <time.h>

#include "kernels/dispatch.h"
#include "matrix/aligned_buffer.h"
#include "matrix/block_sparse_matrix.h"

extern "C" {
void peer_opus_sparse_cgemv8x4(float* out, const signed char* w, const int* idx, const float* scale, int rows,
                               int cols, const float* x);
void peer_lpcnet_sparse_sgemv_accum8x4(float* out, const signed char* w, int rows, int cols, const int* idx,
                                       const float* x);
}

namespace sw = sparsewave;

namespace {

// Each block kept with probability `density`, values uniform in [-1, 1).
sw::BlockSparseMatrix make_matrix(int rows, int cols, int br, int bc, double density, sw::WeightType t,
                                  std::uint32_t seed, sw::Int8Rule rule = sw::Int8Rule::row_max) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> keep(0.0f, 1.0f), val(-1.0f, 1.0f);
  const int nbr = (rows + br - 1) / br, nbc = (cols + bc - 1) / bc;
  std::vector<int32_t> row_ptr(nbr + 1, 0), block_col;
  std::vector<float> values;
  for (int rb = 0; rb < nbr; ++rb) {
    for (int cb = 0; cb < nbc; ++cb) {
      if (density < 1.0 && keep(rng) >= density) continue;
      block_col.push_back(cb);
      for (int i = 0; i < br * bc; ++i) values.push_back(val(rng));
    }
    row_ptr[rb + 1] = static_cast<int32_t>(block_col.size());
  }
  sw::BlockSparseMatrix m =
      sw::BlockSparseMatrix::from_packed(rows, cols, br, bc, row_ptr, block_col, values.data(), values.size());
  if (t == sw::WeightType::i8)
    m.store_int8(rule);
  else
    m.store_as(t);
  return m;
}

// The peers' index list: per block row of 8, the block count, then each block's first column.
std::vector<int> peer_index(const sw::BlockSparseMatrix& m) {
  std::vector<int> idx;
  for (int rb = 0; rb < m.n_block_rows(); ++rb) {
    idx.push_back(m.row_ptr()[rb + 1] - m.row_ptr()[rb]);
    for (int32_t k = m.row_ptr()[rb]; k < m.row_ptr()[rb + 1]; ++k) idx.push_back(m.col_start()[k]);
  }
  return idx;
}

// Their activation quantization: round(127 * x + 127) (one fma, then vcvtps2dq), as bytes.
std::vector<int> peer_quantized_x(const float* x, int n) {
  std::vector<int> xu(n);
  for (int i = 0; i < n; ++i)
    xu[i] = std::clamp(static_cast<int>(std::nearbyint(std::fma(x[i], 127.0f, 127.0f))), 0, 255);
  return xu;
}

// Exact sums of w * xu per row; with `saturate`, each pair of products is
// clamped to int16 first, as vpmaddubsw does.
std::vector<int64_t> peer_sums(const sw::BlockSparseMatrix& m, const int8_t* w, const std::vector<int>& xu,
                               bool saturate) {
  std::vector<int64_t> acc(m.padded_rows(), 0);
  for (int rb = 0; rb < m.n_block_rows(); ++rb)
    for (int32_t k = m.row_ptr()[rb]; k < m.row_ptr()[rb + 1]; ++k)
      for (int r = 0; r < 8; ++r)
        for (int c = 0; c < 4; c += 2) {
          const int8_t* b = w + static_cast<std::ptrdiff_t>(k) * 32 + r * 4 + c;
          const int x0 = m.col_start()[k] + c;
          int64_t pair = int64_t{b[0]} * xu[x0] + int64_t{b[1]} * xu[x0 + 1];
          if (saturate) pair = std::clamp<int64_t>(pair, -32768, 32767);
          acc[rb * 8 + r] += pair;
        }
  return acc;
}

// This thread's CPU time: on a shared machine, time the process spends
// preempted is not the kernels' (google-benchmark reports CPU time too).
double thread_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double burst_seconds(const std::function<void()>& f, long n) {
  const double t0 = thread_seconds();
  for (long i = 0; i < n; ++i) f();
  return (thread_seconds() - t0) / static_cast<double>(n);
}

struct Timed {
  std::string label;
  std::function<void()> call;
  long burst = 1;
  std::vector<double> samples;
};

// Median seconds per call of each, sampled in alternating order.
void interleaved_medians(std::vector<Timed>& ts, int repeats, double sample_s) {
  for (Timed& t : ts) {
    t.call();
    long n = 1;
    while (burst_seconds(t.call, n) * static_cast<double>(n) < sample_s / 4 && n < (1L << 22)) n *= 2;
    t.burst = std::max(1L, std::lround(sample_s / std::max(burst_seconds(t.call, n), 1e-10)));
  }
  for (int rep = 0; rep < repeats; ++rep)
    for (std::size_t j = 0; j < ts.size(); ++j) {
      Timed& t = ts[rep % 2 == 0 ? j : ts.size() - 1 - j];
      t.samples.push_back(burst_seconds(t.call, t.burst));
    }
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

struct Case {
  int rows, cols;
  double density;
};

bool run_case(const Case& c, int repeats, double sample_s) {
  const std::uint32_t seed = 0x9eed0000u ^ static_cast<std::uint32_t>(c.rows * 131 + c.cols * 17) ^
                             static_cast<std::uint32_t>(std::lround(c.density * 10000.0)) << 20;
  struct Ours {
    const char* label;
    int br, bc;
    sw::WeightType t;
    sw::Int8Rule rule = sw::Int8Rule::row_max;
  };
  // The pair-bounded rows quantize the same float weights with the
  // pair-bounded rule (AVX2's unsigned-x kernel; same pattern as the 8x4 row).
  const Ours ours[] = {{"ours f32 16x1", 16, 1, sw::WeightType::f32}, {"ours f32 4x4", 4, 4, sw::WeightType::f32},
                       {"ours f16 16x1", 16, 1, sw::WeightType::f16}, {"ours int8 8x4", 8, 4, sw::WeightType::i8},
                       {"ours int8 4x4", 4, 4, sw::WeightType::i8},
                       {"ours int8 8x4 pair-bounded", 8, 4, sw::WeightType::i8, sw::Int8Rule::pair_bounded},
                       {"ours int8 4x4 pair-bounded", 4, 4, sw::WeightType::i8, sw::Int8Rule::pair_bounded}};
  std::vector<sw::BlockSparseMatrix> ms;
  for (const Ours& o : ours)
    ms.push_back(make_matrix(c.rows, c.cols, o.br, o.bc, c.density, o.t, seed + o.br, o.rule));
  if (!ms[5].pair_bounded() || !ms[6].pair_bounded()) {
    std::printf("pair-bounded rule left a pair past 128\n");
    return false;
  }
  const sw::BlockSparseMatrix& i8 = ms[3];  // the peers run on its bytes and pattern

  sw::AlignedVector<float> x(static_cast<std::size_t>(c.cols) + 64, 0.0f);
  std::mt19937 rng(seed ^ 0x78u);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (int i = 0; i < c.cols; ++i) x[i] = dist(rng);
  sw::AlignedVector<float> y(static_cast<std::size_t>(c.rows) + 64, 0.0f);

  const std::vector<int> idx = peer_index(i8);
  const int8_t* w = i8.values_i8();
  std::vector<float> opus_scale(i8.row_scale(), i8.row_scale() + i8.padded_rows());
  for (float& s : opus_scale) s /= 127.0f;  // their x is 127 * x (+ 127)

  // Check the peers bit for bit on halved weights (no pair can saturate: |w| <= 63).
  std::vector<int8_t> half(w, w + i8.n_values());
  for (int8_t& v : half) v = static_cast<int8_t>(v / 2);
  const std::vector<int> xu = peer_quantized_x(x.data(), c.cols);
  const std::vector<int64_t> exact_half = peer_sums(i8, half.data(), xu, false);
  bool ok = true;
  std::vector<float> out(i8.padded_rows() + 8, 0.0f);
  peer_opus_sparse_cgemv8x4(out.data(), reinterpret_cast<const signed char*>(half.data()), idx.data(),
                            opus_scale.data(), i8.padded_rows(), c.cols, x.data());
  for (int r = 0; r < i8.padded_rows(); ++r)
    ok &= out[r] == static_cast<float>(exact_half[r]) * opus_scale[r];
  std::fill(out.begin(), out.end(), 0.0f);
  peer_lpcnet_sparse_sgemv_accum8x4(out.data(), reinterpret_cast<const signed char*>(half.data()),
                                    i8.padded_rows(), c.cols, idx.data(), x.data());
  for (int r = 0; r < i8.padded_rows(); ++r)
    ok &= out[r] == static_cast<float>(exact_half[r]) * (1.f / 128.f / 127.f);
  // With the full weights: rows where their int16 pairs saturate (Opus's output
  // must equal the saturating model exactly, and differs from the exact sum there).
  const std::vector<int64_t> exact = peer_sums(i8, w, xu, false), sat = peer_sums(i8, w, xu, true);
  peer_opus_sparse_cgemv8x4(out.data(), reinterpret_cast<const signed char*>(w), idx.data(), opus_scale.data(),
                            i8.padded_rows(), c.cols, x.data());
  int saturated_rows = 0;
  for (int r = 0; r < i8.padded_rows(); ++r) {
    ok &= out[r] == static_cast<float>(sat[r]) * opus_scale[r];
    saturated_rows += sat[r] != exact[r];
  }
  // And ours (both 8x4 rules) against the exact int32 model of our own rule.
  for (const sw::BlockSparseMatrix* m8 : {&ms[3], &ms[5]}) {
    const int8_t* w8 = m8->values_i8();
    std::vector<int8_t> xq(m8->padded_cols());
    const float xs = sw::active_kernels().quantize(x.data(), m8->padded_cols(), xq.data());
    std::fill(y.begin(), y.end(), std::nanf(""));
    m8->spmv_padded(x.data(), y.data(), false, 0, m8->n_block_rows(), sw::active_kernels());
    for (int rb = 0; rb < m8->n_block_rows(); ++rb)
      for (int r = 0; r < 8; ++r) {
        int32_t acc = 0;
        for (int32_t k = m8->row_ptr()[rb]; k < m8->row_ptr()[rb + 1]; ++k)
          for (int j = 0; j < 4; ++j) acc += int32_t{w8[k * 32 + r * 4 + j]} * xq[m8->col_start()[k] + j];
        ok &= y[rb * 8 + r] == static_cast<float>(acc) * (m8->row_scale()[rb * 8 + r] * xs);
      }
  }

  std::vector<Timed> ts;
  for (std::size_t i = 0; i < ms.size(); ++i) {
    const sw::BlockSparseMatrix* m = &ms[i];
    const sw::KernelTable* k = &sw::active_kernels();
    float* yp = y.data();
    const float* xp = x.data();
    ts.push_back({ours[i].label, [m, k, xp, yp] { m->spmv_padded(xp, yp, false, 0, m->n_block_rows(), *k); }});
  }
  float* op = out.data();
  const float* xp = x.data();
  const int pr = i8.padded_rows(), cols = c.cols;
  const int* ip = idx.data();
  const float* sp = opus_scale.data();
  const signed char* wp = reinterpret_cast<const signed char*>(w);
  ts.push_back({"Opus int8 8x4", [=] { peer_opus_sparse_cgemv8x4(op, wp, ip, sp, pr, cols, xp); }});
  // It accumulates into out (stays finite: its float-to-int conversion saturates).
  ts.push_back({"LPCNet int8 8x4", [=] { peer_lpcnet_sparse_sgemv_accum8x4(op, wp, pr, cols, ip, xp); }});
  interleaved_medians(ts, repeats, sample_s);

  std::printf("\n%dx%d at density %g (%.1f%% sparse; %d int8 8x4 blocks), one thread, isa %s, medians of %d samples\n",
              c.rows, c.cols, c.density, 100.0 * (1.0 - i8.density()), i8.nnz_blocks(), sw::active_isa().c_str(),
              repeats);
  std::printf("peer checks (bit-exact on pair-safe weights, Opus saturation model on full weights): %s; "
              "rows where full +-127 weights saturate in the peers: %d of %d\n",
              ok ? "pass" : "FAIL", saturated_rows, i8.padded_rows());
  std::printf("| kernel | weight bytes | µs (median) | vs ours f32 16x1 |\n|---|---|---|---|\n");
  const double base = median(ts[0].samples);
  for (std::size_t i = 0; i < ts.size(); ++i) {
    const double t = median(ts[i].samples);
    const std::size_t bytes = i < ms.size() ? ms[i].nbytes() : i8.n_values() + idx.size() * sizeof(int) + pr * 4;
    std::printf("| %s | %zu | %.2f | %.2fx |\n", ts[i].label.c_str(), bytes, t * 1e6, t / base);
  }
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  int repeats = 41;
  double sample_ms = 2.0;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--repeats=", 10) == 0) repeats = std::atoi(argv[i] + 10);
    else if (std::strncmp(argv[i], "--sample-ms=", 12) == 0) sample_ms = std::atof(argv[i] + 12);
    else {
      std::fprintf(stderr, "usage: %s [--repeats=N] [--sample-ms=MS]\n", argv[0]);
      return 1;
    }
  }
  if (repeats < 1 || !(sample_ms > 0)) {
    std::fprintf(stderr, "--repeats must be >= 1 and --sample-ms > 0\n");
    return 1;
  }
  sw::set_isa("avx2");  // the peers are AVX2 builds (throws if this CPU has no AVX2)
  bool ok = true;
  // The shapes: WaveRNN-896's recurrent matrix at 95 % sparsity, and 768x256 at 90 %.
  for (const Case& c : {Case{2688, 896, 0.05}, Case{768, 256, 0.1}}) ok &= run_case(c, repeats, sample_ms * 1e-3);
  return ok ? 0 : 2;
}
