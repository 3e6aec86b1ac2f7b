#include "model/dual_softmax_model.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "format/matrix_reader.h"
#include "kernels/dispatch.h"
#include "matrix/block_choice.h"
#include "model/load_budget.h"
#include "model/loop_matrix.h"
#include "model/output_heads.h"
#include "model/dual_softmax_state.h"
#include "model/dual_softmax_step.h"
#include "model/sample_bytes.h"

namespace sparsewave {

DualSoftmaxModel::DualSoftmaxModel(const SafetensorsFile& f, const DualSoftmaxConfig& cfg, const LoadOptions& opt)
    : c_(cfg), tail_cut_(effective_tail_cut(cfg, opt.tail_cut)), softmax_cut_(tail_cut_logit_gap(tail_cut_)) {
  const int N = c_.hidden, P = c_.parts, part = N / P, M = c_.n_mels, Ho = c_.output_hidden;
  LoopPrecision precision(opt, f);
  upsampler_.factors = {c_.hop_length};
  upsampler_.kernels = {c_.upsample_kernel ? f.read_f32("upsample.weight", {c_.upsample_kernel})
                                           : std::vector<float>{}};
  LoadBudget budget;  // load_budget.h: refuse hostile sizes before building anything
  budget.add_table("cond.weight (3 hidden x n_mels)", 3 * static_cast<int64_t>(N), M);
  budget.add_macs("the upsampling taps", polyphase_taps_macs(upsampler_));
  taps_ = polyphase_taps(upsampler_);
  tap_reach_ = tap_reach(taps_);

  // File rows: gates (u, r, e), each N rows with part 0 (coarse) first.
  // Internal rows: [r_0 u_0 e_0 | r_1 u_1 e_1 | ...]. gate_perm_[internal] = file row.
  gate_perm_.resize(3 * N);
  const int file_gate_of[3] = {1, 0, 2};  // internal r, u, e -> file gate index
  for (int p = 0; p < P; ++p)
    for (int g = 0; g < 3; ++g)
      for (int i = 0; i < part; ++i)
        gate_perm_[(p * 3 + g) * part + i] = file_gate_of[g] * N + p * part + i;
  const std::vector<int>& perm = gate_perm_;
  auto permute_rows = [&](const std::vector<float>& v, int cols) { return permute_gate_rows(v, cols); };

  // Every 2-D tensor may be stored dense or packed (docs/format.md): save_model packs any sparse one.
  const std::vector<float> cond_w = permute_rows(read_matrix(f, "cond.weight", 3 * N, M).to_dense().v, M);
  cond_ = pack_best(cond_w.data(), 3 * N, M);
  const auto cond_b = permute_rows(f.read_f32("cond.bias", {3 * N}), 1);
  // I's columns: the previous step's P bytes, then this step's bytes of parts 0 .. P - 2.
  const int in_cols = 2 * P - 1;
  const auto in_w = permute_rows(read_matrix(f, "I.weight", 3 * N, in_cols).to_dense().v, in_cols);
  const auto in_b = permute_rows(f.read_f32("I.bias", {3 * N}), 1);
  const_bias_.resize(3 * N);
  in_prev_.assign(P, std::vector<float>(3 * N));
  in_cur_.assign(P - 1, std::vector<float>(3 * N));
  for (int r = 0; r < 3 * N; ++r) {
    const_bias_[r] = cond_b[r] + in_b[r];
    for (int q = 0; q < P; ++q) in_prev_[q][r] = in_w[r * in_cols + q];
    // The mask: part q's byte of this step feeds only the parts after q (it is not known yet for the others).
    for (int q = 0; q + 1 < P; ++q) in_cur_[q][r] = r >= 3 * part * (q + 1) ? in_w[r * in_cols + P + q] : 0.0f;
  }

  // An int8 R keeps its stored form when the permutation moves whole block
  // rows (hidden / P a multiple of the block height), else it is requantized.
  LoopMatrix r = loop_matrix(sparsewave::permute_rows(read_file_matrix(f, "R.weight", 3 * N, N), perm), "R.weight", N,
                             precision.of("R.weight"));
  r_ = std::move(r.packed);
  r_bias_.assign(3 * N, 0.0f);
  if (f.has("R.bias")) r_bias_ = permute_rows(f.read_f32("R.bias", {3 * N}), 1);
  loop_.add(r.weights, r_);
  auto load_linear = [&](const std::string& name, int out, int in, BlockSparseMatrix& m, std::vector<float>& b) {
    LoopMatrix w = loop_matrix(read_file_matrix(f, name + ".weight", out, in), name + ".weight", in, precision.of(name + ".weight"));
    m = std::move(w.packed);
    b = f.read_f32(name + ".bias", {out});
    loop_.add(w.weights, m);
  };
  heads_.resize(2 * P);
  head_bias_.resize(2 * P);
  for (int p = 0; p < P; ++p) {
    load_linear("O" + std::to_string(2 * p + 1), Ho, part, heads_[2 * p], head_bias_[2 * p]);
    load_linear("O" + std::to_string(2 * p + 2), 256, Ho, heads_[2 * p + 1], head_bias_[2 * p + 1]);
  }
  precision.check_names();
}

std::vector<float> DualSoftmaxModel::permute_gate_rows(const std::vector<float>& v, int cols) const {
  std::vector<float> out(v.size());
  for (std::size_t r = 0; r < gate_perm_.size(); ++r)
    std::copy_n(v.data() + static_cast<std::size_t>(gate_perm_[r]) * cols, cols, out.data() + r * cols);
  return out;
}

std::unique_ptr<Conditioning> DualSoftmaxModel::condition(const float* mels, int64_t frames) const {
  // The streaming path with every frame at once: one way to condition.
  auto stream = start_conditioning();
  std::unique_ptr<Conditioning> cond = extend_conditioning(*stream, mels, frames, true);
  return cond ? std::move(cond) : std::make_unique<Data>();  // no frames
}

std::unique_ptr<ConditioningStream> DualSoftmaxModel::start_conditioning() const {
  return std::make_unique<Incremental>();
}

std::unique_ptr<Conditioning> DualSoftmaxModel::extend_conditioning(ConditioningStream& stream, const float* mels,
                                                                    int64_t n, bool last) const {
  auto& s = static_cast<Incremental&>(stream);
  if (s.finished) throw std::invalid_argument("conditioning: frames after the last one");
  const int M = c_.n_mels, rows = 3 * c_.hidden;
  if (n > 0) {
    const std::size_t first = s.z.size();
    s.z.resize(first + static_cast<std::size_t>(n) * rows);
    // Z = cond.weight * mel for every new frame, as frames of one many-vector product
    // (always that kernel, even for one frame: a frame's bits never depend on how many
    // frames a push brings, so streamed and whole-utterance conditioning agree).
    const std::ptrdiff_t pc = cond_.padded_cols(), pr = cond_.padded_rows();
    constexpr int64_t kChunk = 64;  // frames per product: bounded scratch
    AlignedVector<float> x(static_cast<std::size_t>(std::min(n, kChunk)) * pc, 0.0f);
    AlignedVector<float> y(static_cast<std::size_t>(std::min(n, kChunk)) * pr, 0.0f);
    for (int64_t f0 = 0; f0 < n; f0 += kChunk) {
      const int nf = static_cast<int>(std::min(kChunk, n - f0));
      for (int i = 0; i < nf; ++i) std::copy_n(mels + (f0 + i) * M, M, x.data() + i * pc);
      cond_.spmv_many_padded(x.data(), pc, y.data(), pr, nf, false, active_kernels());
      for (int i = 0; i < nf; ++i) std::copy_n(y.data() + i * pr, rows, s.z.data() + first + (f0 + i) * rows);
    }
    s.frames_in += n;
    s.frames_conditioned += n;
  }
  s.finished = last;
  const int64_t ready = last ? s.frames_in : std::max(s.frames_done, s.frames_in - lookahead_frames());
  if (ready <= s.frames_done) return nullptr;
  auto d = std::make_unique<Data>();
  d->first_sample = s.frames_done * c_.hop_length;
  d->n_samples = ready * c_.hop_length;
  // The Z rows held go with these samples (their taps read them); the state
  // keeps a copy of those that later frames' taps still read.
  const int64_t keep = std::max<int64_t>(s.z_first, ready - tap_reach_.back);
  std::vector<float> kept(s.z.begin() + (keep - s.z_first) * rows, s.z.end());
  d->z_first = s.z_first;
  d->z_end = s.frames_in;
  d->z = std::move(s.z);
  s.z = std::move(kept);
  s.z_first = keep;
  s.frames_done = ready;
  s.final_samples = d->n_samples;
  return d;
}

DualSoftmaxModel::Workspace DualSoftmaxModel::make_workspace(int B) const {
  Workspace w;
  w.ld = std::max({round16(3 * c_.hidden), round16(c_.output_hidden), 256});
  const int P = c_.parts;
  w.logits.resize(P);
  for (auto* v : {&w.h, &w.gh, &w.pre, &w.hidden}) v->assign(static_cast<std::size_t>(w.ld) * B, 0.0f);
  for (auto& v : w.logits) v.assign(static_cast<std::size_t>(w.ld) * B, 0.0f);
  w.bytes.resize(P);
  for (int p = 0; p < P; ++p) w.bytes[p].assign(B, p % 2 == 0 ? 128 : 0);  // previous samples start at 0.0 (bytes 128, 0)
  w.t.assign(B, 0);
  w.scratch.assign(256, 0.0f);
  std::size_t taps = 0;
  for (const auto& phase : taps_) taps = std::max(taps, phase.size());
  w.terms.assign(taps + P + 2, nullptr);  // const bias, the taps, P byte columns, an extra term
  w.term_weights.assign(taps + P + 2, 0.0f);
  return w;
}

std::unique_ptr<GenerationState> DualSoftmaxModel::start_generation(int batch) const {
  return std::make_unique<Workspace>(make_workspace(batch));
}

int DualSoftmaxModel::lookahead_frames() const {
  return tap_reach_.ahead;  // the upsampling taps read Z up to this many frames ahead
}

void DualSoftmaxModel::continue_generation(const Conditioning& cond, const std::vector<StreamSpan>& spans,
                                           GenerationState& state, int64_t n_steps, const UniformFn& uniform,
                                           const std::vector<float*>& out, const ProgressFn& progress) const {
  const Data& d = static_cast<const Data&>(cond);
  Workspace& w = static_cast<Workspace&>(state);
  const int B = static_cast<int>(spans.size());
  const KernelTable& k = active_kernels();
  const int64_t first = w.step;
  for (int64_t i = 0; i < n_steps; ++i) {
    const int64_t j = first + i;
    for (int s = 0; s < B; ++s) w.t[s] = spans[s].start + j;
    step(w, d, 0, B, nullptr, [&](int) {  // this family has two parts: the one picked here is coarse
      for (int s = 0; s < B; ++s)
        w.bytes[0][s] = k.elementwise.sample_softmax(w.logits[0].data() + s * w.ld, 256, uniform(s, 2 * j), softmax_cut_, w.scratch.data());
    });
    for (int s = 0; s < B; ++s) {
      w.bytes[1][s] = k.elementwise.sample_softmax(w.logits[1].data() + s * w.ld, 256, uniform(s, 2 * j + 1), softmax_cut_, w.scratch.data());
      if (j < spans[s].length) out[s][i] = bytes_to_value(w.bytes[0][s], w.bytes[1][s]);
    }
    w.step = j + 1;
    if (!report_progress(progress, i + 1, n_steps, B)) return;  // cancelled
  }
}

double DualSoftmaxModel::teacher_forced(const Conditioning& cond, const float* audio, int64_t n,
                                        float* logits_out) const {
  const Data& d = static_cast<const Data&>(cond);
  Workspace w = make_workspace(1);
  double nll = 0;
  for (int64_t t = 0; t < n; ++t) {
    const int u16 = value_to_u16(audio[t]);
    const int c = u16 >> 8, f = u16 & 255;
    w.t[0] = t;
    step(w, d, 0, 1, nullptr, [&](int) { w.bytes[0][0] = c; });  // the fine half sees the true c_t
    if (logits_out) {
      std::copy_n(w.logits[0].data(), 256, logits_out + t * 512);
      std::copy_n(w.logits[1].data(), 256, logits_out + t * 512 + 256);
    }
    nll += softmax_nll_bits(w.logits[0].data(), 256, c) + softmax_nll_bits(w.logits[1].data(), 256, f);
    w.bytes[1][0] = f;  // becomes f_{t-1}; bytes[0] already holds c_t
  }
  return nll;
}

std::vector<std::string> DualSoftmaxModel::matrices_json() const {
  std::vector<std::string> matrices = {matrix_json(c_.parts == 2 ? "R (rows r, u, e per half)" : "R (rows r, u, e per part)", r_, true)};
  for (std::size_t i = 0; i < heads_.size(); ++i) matrices.push_back(matrix_json("O" + std::to_string(i + 1), heads_[i], true));
  return matrices;
}

std::string DualSoftmaxModel::describe() const { return describe_json("dual_softmax", matrices_json(), loop_); }

}  // namespace sparsewave
