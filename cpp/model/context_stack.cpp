#include "model/context_stack.h"

#include <algorithm>
#include <string>

#include "format/matrix_reader.h"
#include "kernels/dispatch.h"
#include "matrix/block_choice.h"

namespace sparsewave {

namespace {

void relu_add(float* out, const float* v, const float* bias, int n) {  // out = relu(v + bias)
  for (int i = 0; i < n; ++i) out[i] = std::max(v[i] + bias[i], 0.0f);
}

}  // namespace

ContextStack::ContextStack(const SafetensorsFile& f, const SubscaleConfig& c)
    : sub_tensors_(c.sub_tensors), channels_(c.context_channels), layers_(c.context_layers),
      features_(c.context_features), groups_(c.groups()) {
  const int B = sub_tensors_, C = channels_, BE = groups_ * features_;
  in_ = pack_best(read_matrix(f, "ctx.in.weight", C, B));
  in_bias_ = f.read_f32("ctx.in.bias", {C});
  for (int l = 0; l < layers_; ++l) {
    const std::string name = "ctx.conv" + std::to_string(l);
    const std::vector<float> w = f.read_f32(name + ".weight", {C, C, 2});
    // (C_out, C_in, 2) -> C_out x [tap 0 (older) columns | tap 1 (newer) columns]
    std::vector<float> both(static_cast<std::size_t>(C) * 2 * C);
    for (int o = 0; o < C; ++o)
      for (int i = 0; i < C; ++i)
        for (int tap = 0; tap < 2; ++tap)
          both[static_cast<std::size_t>(o) * 2 * C + tap * C + i] = w[(static_cast<std::size_t>(o) * C + i) * 2 + tap];
    conv_.push_back(pack_best(both.data(), C, 2 * C));
    conv_bias_.push_back(f.read_f32(name + ".bias", {C}));
  }
  out_ = pack_best(read_matrix(f, "ctx.out.weight", BE, C));
  out_bias_ = f.read_f32("ctx.out.bias", {BE});
}

ContextStack::State ContextStack::start() const {
  State s;
  const int C = channels_;
  int widest = std::max({in_.padded_cols(), in_.padded_rows(), out_.padded_cols(), out_.padded_rows(), 2 * C});
  for (const auto& m : conv_) widest = std::max({widest, m.padded_cols(), m.padded_rows()});
  for (int l = 0; l < layers_; ++l) s.rings.emplace_back(static_cast<std::size_t>(C) << l, 0.0f);
  for (auto* v : {&s.x, &s.e, &s.y, &s.top}) v->assign(widest, 0.0f);
  return s;
}

void ContextStack::push(State& s, const float* z) const {
  const KernelTable& k = active_kernels();
  const int C = channels_;
  std::copy_n(z, sub_tensors_, s.x.begin());
  in_.spmv_padded(s.x.data(), s.y.data(), false, 0, in_.n_block_rows(), k);
  relu_add(s.e.data(), s.y.data(), in_bias_.data(), C);  // e_0
  for (int l = 0; l < layers_; ++l) {
    // x = [e_l(column - 2^l) | e_l(column)]; the ring slot of column - 2^l is that of column.
    float* slot = s.rings[l].data() + static_cast<std::size_t>(s.columns & ((int64_t{1} << l) - 1)) * C;
    std::copy_n(slot, C, s.x.begin());
    std::copy_n(s.e.begin(), C, s.x.begin() + C);
    std::copy_n(s.e.begin(), C, slot);
    conv_[l].spmv_padded(s.x.data(), s.y.data(), false, 0, conv_[l].n_block_rows(), k);
    for (int i = 0; i < C; ++i) s.e[i] += std::max(s.y[i] + conv_bias_[l][i], 0.0f);  // residual
  }
  std::copy_n(s.e.begin(), C, s.top.begin());
  std::fill(s.x.begin(), s.x.end(), 0.0f);  // the padding the next products read stays finite and zero
  ++s.columns;
}

void ContextStack::features(State& s, float* g) const {
  out_.spmv_padded(s.top.data(), s.y.data(), false, 0, out_.n_block_rows(), active_kernels());
  relu_add(g, s.y.data(), out_bias_.data(), groups_ * features_);
}

int64_t ContextStack::macs_per_step() const {
  const int64_t C = channels_;
  return C * sub_tensors_ + 2 * C * C * layers_ + C * groups_ * features_;
}

}  // namespace sparsewave
