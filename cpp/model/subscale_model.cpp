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
  // Per generated sample: the cell's matrices and the projection (once per step for each
  // group of members() samples), and a B-th of the shared stack.
  CsrMatrix proj_weights = CsrMatrix::from_dense(proj.data(), 3 * N, E);
  loop_macs().add(proj_weights, proj_);
  loop_macs().nonzero /= cfg.members();
  loop_macs().stored /= cfg.members();
  const int64_t stack_share = stack_.macs_per_step() / cfg.sub_tensors;
  loop_macs().nonzero += stack_share;
  loop_macs().stored += stack_share;
}

template <class Pick, class Done, class Progress>
bool SubscaleModel::run_utterance(const Data& d, int64_t start, int64_t length, int threads, Pick pick, Done done,
                                  Progress progress) const {
  const int B = s_.sub_tensors, E = s_.context_features, M = s_.members(), G = s_.groups();
  const SubscaleSchedule plan(length, B, s_.horizon, M);
  const KernelTable& k = active_kernels();
  // Workspace stream g is group g (sub-tensors g M .. g M + M - 1, parts 2m, 2m + 1 for member m).
  // Part p of the team owns groups [G p / P, G (p + 1) / P), in its own workspace (the cell's
  // scratch is per workspace); the stream-major buffers below are shared, each group writing
  // only its own slab.
  StepTeam team(std::max(1, std::min(threads, G)));
  const int P = team.parts();
  std::vector<Workspace> ws;
  for (int p = 0; p < P; ++p) {
    ws.push_back(make_workspace(G));
    ws.back().multi_vector = true;  // the same bits for any number of active groups or threads
  }
  auto owner = [&](int g) {
    int p = 0;
    while (g >= G * (p + 1) / P) ++p;
    return p;
  };
  const std::ptrdiff_t ld = ws[0].ld;
  ContextStack::State ctx = stack_.start();
  std::vector<float> feats(static_cast<std::size_t>(G) * E), z(B);
  AlignedVector<float> features(static_cast<std::size_t>(ld) * G, 0.0f), term(static_cast<std::size_t>(ld) * G, 0.0f);
  std::vector<int64_t> position(G);
  auto time_of = [&](int g, int part) { return plan.time(g * M + part / 2, position[g]); };
  const int64_t n_steps = plan.n_steps();
  int first = 0, end = 0;
  const std::function<void(int)> part_step = [&](int p) {
    const int lo = std::max(first, G * p / P), hi = std::min(end, G * (p + 1) / P);
    if (lo >= hi) return;
    Workspace& w = ws[p];
    for (int g = lo; g < hi; ++g) {
      std::copy_n(feats.begin() + static_cast<std::ptrdiff_t>(g) * E, E, features.begin() + g * ld);
      w.t[g] = start + time_of(g, 0);  // a pair's state reads its first member's conditioning
    }
    proj_.spmv_many_padded(features.data() + lo * ld, ld, term.data() + lo * ld, ld, hi - lo, false, k);
    auto pick_part = [&](int part) {
      for (int g = lo; g < hi; ++g)
        w.bytes[part][g] = pick(g * M + part / 2, time_of(g, part), part % 2, w.logits[part].data() + g * ld,
                                w.scratch.data());
    };
    step(w, d, lo, hi - lo, term.data(), pick_part);
    pick_part(2 * M - 1);
  };
  for (int64_t s = 0; s < n_steps; ++s) {
    first = plan.first_active(s);
    end = plan.end_active(s);
    // Everything this step reads (the stack's columns before it) is taken before anything is written.
    stack_.features(ctx, feats.data());
    for (int g = first; g < end; ++g) position[g] = plan.position(g, s);
    team.run(part_step);
    std::fill(z.begin(), z.end(), 0.0f);
    for (int g = first; g < end; ++g) {
      const Workspace& w = ws[owner(g)];
      for (int m = 0; m < M; ++m) {
        const int b = g * M + m, c = w.bytes[2 * m][g], f = w.bytes[2 * m + 1][g];
        done(b, time_of(g, 2 * m), c, f, w.logits[2 * m].data() + g * ld, w.logits[2 * m + 1].data() + g * ld);
        z[b] = bytes_to_value(c, f);
      }
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
  const SubscaleSchedule first(1, s_.sub_tensors, s_.horizon, s_.members());
  const std::string extra = ", \"sub_tensors\": " + std::to_string(s_.sub_tensors) +
                            ", \"fused\": " + (s_.fused ? "true" : "false") +
                            ", \"horizon\": " + std::to_string(s_.horizon) +
                            ", \"context_macs_per_step\": " + std::to_string(stack_.macs_per_step()) +
                            ", \"steps_to_first_audio\": " + std::to_string(first.steps_to_first_audio());
  return describe_json("subscale", matrices, loop_macs(), extra);
}

}  // namespace sparsewave
