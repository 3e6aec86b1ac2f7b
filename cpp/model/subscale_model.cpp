#include "model/subscale_model.h"

#include <algorithm>
#include <functional>
#include <stdexcept>

#include "format/matrix_reader.h"
#include "matrix/block_choice.h"
#include "model/dual_softmax_state.h"
#include "model/dual_softmax_step.h"
#include "model/output_heads.h"
#include "model/sample_bytes.h"
#include "synth/step_team.h"
#include "synth/subscale_schedule.h"

namespace sparsewave {

SubscaleModel::SubscaleModel(const SafetensorsFile& f, const SubscaleConfig& cfg, const LoadOptions& opt)
    : DualSoftmaxModel(f, cfg.cell, opt), s_(cfg), stack_(f, cfg) {
  const int N = cfg.cell.hidden, E = cfg.context_features;
  const std::vector<float> proj = permute_gate_rows(read_matrix(f, "ctx.proj.weight", 3 * N, E).to_dense().v, E);
  proj_ = pack_best(proj.data(), 3 * N, E);
  // Per generated sample: the cell's matrices, the projection, and a B-th of the shared stack.
  CsrMatrix proj_weights = CsrMatrix::from_dense(proj.data(), 3 * N, E);
  loop_macs().add(proj_weights, proj_);
  const int64_t stack_share = stack_.macs_per_step() / cfg.sub_tensors;
  loop_macs().nonzero += stack_share;
  loop_macs().stored += stack_share;
}

template <class Pick, class Done, class Progress>
bool SubscaleModel::run_utterance(const Data& d, int64_t start, int64_t length, int threads, Pick pick, Done done,
                                  Progress progress) const {
  const int B = s_.sub_tensors, E = s_.context_features;
  const SubscaleSchedule plan(length, B, s_.horizon);
  const KernelTable& k = active_kernels();
  // Part p of the team owns sub-tensors [B p / P, B (p + 1) / P), in its own workspace (the
  // cell's scratch is per workspace); the stream-major buffers below are shared, each
  // sub-tensor writing only its own slab.
  StepTeam team(std::max(1, std::min(threads, B)));
  const int P = team.parts();
  std::vector<Workspace> ws;
  for (int p = 0; p < P; ++p) {
    ws.push_back(make_workspace(B));
    ws.back().multi_vector = true;  // the same bits for any number of active sub-tensors or threads
  }
  auto owner = [&](int b) {
    int p = 0;
    while (b >= B * (p + 1) / P) ++p;
    return p;
  };
  const std::ptrdiff_t ld = ws[0].ld;
  ContextStack::State ctx = stack_.start();
  std::vector<float> g(static_cast<std::size_t>(B) * E), z(B);
  AlignedVector<float> features(static_cast<std::size_t>(ld) * B, 0.0f), term(static_cast<std::size_t>(ld) * B, 0.0f);
  std::vector<int64_t> local_t(B);
  const int64_t n_steps = plan.n_steps();
  int first = 0, end = 0;
  const std::function<void(int)> part_step = [&](int p) {
    const int lo = std::max(first, B * p / P), hi = std::min(end, B * (p + 1) / P);
    if (lo >= hi) return;
    Workspace& w = ws[p];
    for (int b = lo; b < hi; ++b) {
      std::copy_n(g.begin() + static_cast<std::ptrdiff_t>(b) * E, E, features.begin() + b * ld);
      w.t[b] = start + local_t[b];
    }
    proj_.spmv_many_padded(features.data() + lo * ld, ld, term.data() + lo * ld, ld, hi - lo, false, k);
    step(w, d, lo, hi - lo, term.data(), [&] {
      for (int b = lo; b < hi; ++b) w.coarse[b] = pick(b, local_t[b], 0, w.logits_c.data() + b * ld, w.scratch.data());
    });
    for (int b = lo; b < hi; ++b) w.fine[b] = pick(b, local_t[b], 1, w.logits_f.data() + b * ld, w.scratch.data());
  };
  for (int64_t s = 0; s < n_steps; ++s) {
    first = plan.first_active(s);
    end = plan.end_active(s);
    // Everything this step reads (the stack's columns before it) is taken before anything is written.
    stack_.features(ctx, g.data());
    for (int b = first; b < end; ++b) local_t[b] = plan.time(b, plan.position(b, s));
    team.run(part_step);
    std::fill(z.begin(), z.end(), 0.0f);
    for (int b = first; b < end; ++b) {
      const Workspace& w = ws[owner(b)];
      done(b, local_t[b], w.coarse[b], w.fine[b], w.logits_c.data() + b * ld, w.logits_f.data() + b * ld);
      z[b] = bytes_to_value(w.coarse[b], w.fine[b]);
    }
    stack_.push(ctx, z.data());
    if (!progress(s + 1, n_steps)) return false;
  }
  return true;
}

bool SubscaleModel::generate_span(const Data& d, const StreamSpan& span, int stream, const UniformFn& uniform,
                                  float* y, const ProgressFn& progress, int64_t done_before, int threads) const {
  const KernelTable& k = active_kernels();
  const int64_t length = span.length;
  auto pick = [&](int, int64_t t, int half, const float* logits, float* scratch) {
    // The folded padding (t >= length) draws with u = 0.5: it has no uniform of its own.
    const float u = t < length ? uniform(stream, 2 * t + half) : 0.5f;
    return k.elementwise.sample_softmax(logits, 256, u, softmax_cut(), scratch);
  };
  int64_t generated = 0;
  auto done = [&](int, int64_t t, int c, int f, const float*, const float*) {
    if (t < length) {
      y[t] = bytes_to_value(c, f);
      ++generated;
    }
  };
  auto report = [&](int64_t steps, int64_t total) {
    if (!progress || (steps % 256 != 0 && steps != total)) return true;
    return progress(done_before + generated);
  };
  return run_utterance(d, span.start, length, threads, pick, done, report);
}

void SubscaleModel::continue_generation(const Conditioning& cond, const std::vector<StreamSpan>& spans,
                                        GenerationState& state, int64_t n_steps, const UniformFn& uniform,
                                        const std::vector<float*>& out, const ProgressFn& progress) const {
  for (const StreamSpan& span : spans)
    if (state.step != 0 || n_steps < span.length)
      throw std::invalid_argument(
          "the subscale family generates whole utterances (it cannot stream or continue a piece); "
          "use synthesize(), or a dual_softmax model for streaming");
  const Data& d = static_cast<const Data&>(cond);
  int64_t done_before = 0;  // samples of earlier spans, for progress
  for (std::size_t s = 0; s < spans.size(); ++s) {
    if (!generate_span(d, spans[s], static_cast<int>(s), uniform, out[s], progress, done_before, 1))
      return;  // cancelled
    done_before += spans[s].length;
  }
  state.step = n_steps;
}

void SubscaleModel::generate_utterance(const Conditioning& cond, int64_t n, const UniformFn& uniform, float* out,
                                       const ProgressFn& progress, int threads) const {
  generate_span(static_cast<const Data&>(cond), {0, n}, 0, uniform, out, progress, 0, threads);
}

double SubscaleModel::teacher_forced(const Conditioning& cond, const float* audio, int64_t n,
                                     float* logits_out) const {
  const Data& d = static_cast<const Data&>(cond);
  auto teacher = [&](int64_t t) { return t < n ? value_to_u16(audio[t]) : 32768; };  // padding: value 0
  auto pick = [&](int, int64_t t, int half, const float*, float*) { return half == 0 ? teacher(t) >> 8 : teacher(t) & 255; };
  double nll = 0;
  auto done = [&](int, int64_t t, int c, int f, const float* lc, const float* lf) {
    if (t >= n) return;
    if (logits_out) {
      std::copy_n(lc, 256, logits_out + t * 512);
      std::copy_n(lf, 256, logits_out + t * 512 + 256);
    }
    nll += softmax_nll_bits(lc, 256, c) + softmax_nll_bits(lf, 256, f);
  };
  run_utterance(d, 0, n, 1, pick, done, [](int64_t, int64_t) { return true; });
  return nll;
}

std::string SubscaleModel::describe() const {
  std::vector<std::string> matrices = matrices_json();
  matrices.push_back(matrix_json("ctx.proj", proj_, true));
  const SubscaleSchedule first(1, s_.sub_tensors, s_.horizon);
  const std::string extra = ", \"sub_tensors\": " + std::to_string(s_.sub_tensors) +
                            ", \"horizon\": " + std::to_string(s_.horizon) +
                            ", \"context_macs_per_step\": " + std::to_string(stack_.macs_per_step()) +
                            ", \"steps_to_first_audio\": " + std::to_string(first.steps_to_first_audio());
  return describe_json("subscale", matrices, loop_macs(), extra);
}

}  // namespace sparsewave
