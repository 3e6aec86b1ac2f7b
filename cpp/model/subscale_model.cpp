#include "model/subscale_model.h"

#include <algorithm>
#include <stdexcept>

#include "format/matrix_reader.h"
#include "matrix/block_choice.h"
#include "model/dual_softmax_state.h"
#include "model/dual_softmax_step.h"
#include "model/output_heads.h"
#include "model/sample_bytes.h"
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
bool SubscaleModel::run_utterance(const Data& d, int64_t start, int64_t length, Pick pick, Done done,
                                  Progress progress) const {
  const int B = s_.sub_tensors, E = s_.context_features;
  const SubscaleSchedule plan(length, B, s_.horizon);
  const KernelTable& k = active_kernels();
  Workspace w = make_workspace(B);
  const std::ptrdiff_t ld = w.ld;
  ContextStack::State ctx = stack_.start();
  std::vector<float> g(static_cast<std::size_t>(B) * E), z(B);
  AlignedVector<float> features(static_cast<std::size_t>(ld) * B, 0.0f), term(static_cast<std::size_t>(ld) * B, 0.0f);
  std::vector<int64_t> local_t(B);
  const int64_t n_steps = plan.n_steps();
  for (int64_t s = 0; s < n_steps; ++s) {
    const int first = plan.first_active(s), end = plan.end_active(s), count = end - first;
    // Everything this step reads (the stack's columns before it) is taken before anything is written.
    stack_.features(ctx, g.data());
    for (int b = first; b < end; ++b) {
      std::copy_n(g.begin() + static_cast<std::ptrdiff_t>(b) * E, E, features.begin() + b * ld);
      local_t[b] = plan.time(b, plan.position(b, s));
      w.t[b] = start + local_t[b];
    }
    proj_.spmv_streams_padded(features.data() + first * ld, term.data() + first * ld, count, ld, false, k);
    step(w, d, first, count, term.data(), [&] {
      for (int b = first; b < end; ++b) w.coarse[b] = pick(b, local_t[b], 0, w.logits_c.data() + b * ld);
    });
    std::fill(z.begin(), z.end(), 0.0f);
    for (int b = first; b < end; ++b) {
      w.fine[b] = pick(b, local_t[b], 1, w.logits_f.data() + b * ld);
      done(b, local_t[b], w.coarse[b], w.fine[b], w.logits_c.data() + b * ld, w.logits_f.data() + b * ld);
      z[b] = bytes_to_value(w.coarse[b], w.fine[b]);
    }
    stack_.push(ctx, z.data());
    if (!progress(s + 1, n_steps)) return false;
  }
  return true;
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
  const KernelTable& k = active_kernels();
  std::vector<float> scratch(256);
  int64_t done_before = 0;  // samples of earlier spans, for progress
  for (std::size_t s = 0; s < spans.size(); ++s) {
    const int64_t length = spans[s].length;
    float* y = out[s];
    auto pick = [&](int, int64_t t, int half, const float* logits) {
      // The folded padding (t >= length) draws with u = 0.5: it has no uniform of its own.
      const float u = t < length ? uniform(static_cast<int>(s), 2 * t + half) : 0.5f;
      return k.elementwise.sample_softmax(logits, 256, u, scratch.data());
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
    if (!run_utterance(d, spans[s].start, length, pick, done, report)) return;  // cancelled
    done_before += length;
  }
  state.step = n_steps;
}

double SubscaleModel::teacher_forced(const Conditioning& cond, const float* audio, int64_t n,
                                     float* logits_out) const {
  const Data& d = static_cast<const Data&>(cond);
  auto teacher = [&](int64_t t) { return t < n ? value_to_u16(audio[t]) : 32768; };  // padding: value 0
  auto pick = [&](int, int64_t t, int half, const float*) { return half == 0 ? teacher(t) >> 8 : teacher(t) & 255; };
  double nll = 0;
  auto done = [&](int, int64_t t, int c, int f, const float* lc, const float* lf) {
    if (t >= n) return;
    if (logits_out) {
      std::copy_n(lc, 256, logits_out + t * 512);
      std::copy_n(lf, 256, logits_out + t * 512 + 256);
    }
    nll += softmax_nll_bits(lc, 256, c) + softmax_nll_bits(lf, 256, f);
  };
  run_utterance(d, 0, n, pick, done, [](int64_t, int64_t) { return true; });
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
